"""Request authentication: the subscription-key header, or an Entra ID bearer token from azure-identity."""

from __future__ import annotations

import threading
import time
from typing import Any

from ctc_spark.config import ResourceSettings
from ctc_spark.errors import ConfigError

__all__ = ["SCOPE", "Authenticator"]

SCOPE = "https://cognitiveservices.azure.com/.default"
_REFRESH_MARGIN = 300.0


class Authenticator:
    """Headers that authenticate one resource; tokens are cached until five minutes before they expire."""

    def __init__(self, resource: ResourceSettings, *, use_entra_id: bool = False, credential: Any = None) -> None:
        self._key = resource.key
        self._credential = credential
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()
        if credential is None and (use_entra_id or resource.key is None):
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise ConfigError(
                    "Entra ID auth needs azure-identity: pip install 'ctc-spark[entra]', or set AZURE_LANGUAGE_KEY",
                    key="service.use_entra_id",
                ) from None
            self._credential = DefaultAzureCredential()

    def __repr__(self) -> str:
        return f"Authenticator({'entra-id' if self._credential else 'key'})"

    def headers(self) -> dict[str, str]:
        if self._credential is None and self._key is not None:
            return {"Ocp-Apim-Subscription-Key": self._key.reveal()}
        with self._lock:
            if self._token is None or self._token[1] - _REFRESH_MARGIN < time.time():
                token = self._credential.get_token(SCOPE)
                self._token = (token.token, float(token.expires_on))
            return {"Authorization": f"Bearer {self._token[0]}"}
