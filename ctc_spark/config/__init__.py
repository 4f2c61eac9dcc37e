"""Settings: frozen, picklable dataclasses and the one loader that fills them.

Precedence: command-line flags > `CTC_SPARK_<SECTION>_<KEY>` and `AZURE_*` variables > the TOML file > the
built-in defaults (the dataclass fields). Secrets are wrapped in `Secret`, whose `repr()` and `str()` never show
the value. Library code takes these objects; only `load_settings` reads `os.environ`.
"""

from __future__ import annotations

from ctc_spark.config.endpoints import check_endpoint, origin
from ctc_spark.config.loader import (
    ENV_CONFIG,
    ENV_ENDPOINT,
    ENV_KEY,
    ENV_KEY_SECRET,
    ENV_STORAGE,
    ENV_STORAGE_SECRET,
    default_config_path,
    load_settings,
)
from ctc_spark.config.model import (
    ENGINE_CHOICES,
    BatchSettings,
    EmulatorSettings,
    EngineSettings,
    ResourceSettings,
    Secret,
    ServiceSettings,
    Settings,
    SparkSettings,
    StorageSettings,
    is_loopback_url,
)
from ctc_spark.config.secrets import SecretResolver, databricks_secret

__all__ = [
    "ENGINE_CHOICES",
    "ENV_CONFIG",
    "ENV_ENDPOINT",
    "ENV_KEY",
    "ENV_KEY_SECRET",
    "ENV_STORAGE",
    "ENV_STORAGE_SECRET",
    "BatchSettings",
    "EmulatorSettings",
    "EngineSettings",
    "ResourceSettings",
    "Secret",
    "SecretResolver",
    "ServiceSettings",
    "Settings",
    "SparkSettings",
    "StorageSettings",
    "check_endpoint",
    "databricks_secret",
    "default_config_path",
    "is_loopback_url",
    "load_settings",
    "origin",
]
