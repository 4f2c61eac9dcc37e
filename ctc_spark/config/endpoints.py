"""Where a key may go: a resource's endpoint is https, or http on a loopback host, and URLs are compared by origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from ctc_spark.config.model import is_loopback_url
from ctc_spark.errors import ConfigError

__all__ = ["check_endpoint", "origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, default ports filled in; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def check_endpoint(endpoint: str, *, resource: str, key: str | None = None, source: str | None = None) -> str:
    """The endpoint without its trailing slash, once it is a URL a key may be sent to.

    Raises:
        ConfigError: not an http(s) URL with a host; http to a host that is not loopback; user info, a query
            or a fragment in it. Names the resource, the value and the key.
    """
    value = endpoint.rstrip("/")
    problem = _problem(value)
    if problem:
        raise ConfigError(f"resource {resource!r}: endpoint {endpoint!r} {problem}", key=key, source=source)
    return value


def _problem(value: str) -> str | None:
    found = origin(value)
    if found is None:
        return "must be an https URL such as https://<resource>.cognitiveservices.azure.com"
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return "must not carry user info, a query or a fragment"
    if found[0] != "https" and not is_loopback_url(value):
        return "must use https: the key would cross the network in clear text (http is only for loopback hosts)"
    return None
