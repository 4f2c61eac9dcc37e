"""Training config versions and the model and deployment expiry dates they imply, against the emulator's clock.

The service's one published config, `2022-05-01`, keeps its documented dates (models expire 2025-10-22,
deployments 2026-10-22). A fresh emulator also lists `CURRENT_VERSION`, whose dates lie in the future of its
clock, and `latest` resolves to it, so a model trained today is not born expired. Both can be replaced with
explicit versions and dates (`EmulatorConfig.training_configs`, `--training-config`) to test expiry warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

__all__ = [
    "CURRENT_VERSION",
    "DOCUMENTED",
    "TrainingConfigVersion",
    "default_training_configs",
    "find_training_config",
    "parse_training_config",
]

CURRENT_VERSION = "emulator-current"
# A config lives about six months, then its deployments another twelve (concepts/model-lifecycle.md).
_MODEL_DAYS = 365
_DEPLOYMENT_EXTRA_DAYS = 365


@dataclass(frozen=True)
class TrainingConfigVersion:
    """One training config version: the date its models expire and the date their deployments do."""

    version: str
    model_expiration: date
    deployment_expiration: date

    def public(self) -> dict[str, str]:
        """The TrainingConfigVersion JSON the service lists."""
        return {"trainingConfigVersion": self.version, "modelExpirationDate": self.model_expiration.isoformat()}


DOCUMENTED = TrainingConfigVersion("2022-05-01", date(2025, 10, 22), date(2026, 10, 22))


def default_training_configs(now: float) -> tuple[TrainingConfigVersion, ...]:
    """The documented config plus a current one that expires a year after `now` (epoch seconds); last is latest."""
    today = datetime.fromtimestamp(now, timezone.utc).date()
    model = today + timedelta(days=_MODEL_DAYS)
    return DOCUMENTED, TrainingConfigVersion(CURRENT_VERSION, model, model + timedelta(days=_DEPLOYMENT_EXTRA_DAYS))


def find_training_config(configs: Sequence[TrainingConfigVersion], version: str) -> TrainingConfigVersion:
    """The config named `version` (`latest` is the last one); an unknown name (old state) falls back to latest."""
    for config in configs:
        if config.version == version:
            return config
    return configs[-1]


def parse_training_config(text: str) -> TrainingConfigVersion:
    """`VERSION=MODEL_EXPIRY[,DEPLOYMENT_EXPIRY]` with ISO dates; the deployment date defaults to a year later.

    Raises:
        ValueError: no `=`, an empty version, or a date that is not YYYY-MM-DD.
    """
    version, sep, dates = text.partition("=")
    if not sep or not version.strip():
        raise ValueError(f"training config {text!r} must look like VERSION=YYYY-MM-DD[,YYYY-MM-DD]")
    parts = [p.strip() for p in dates.split(",")]
    if len(parts) > 2:
        raise ValueError(f"training config {text!r} has more than two dates")
    try:
        model = date.fromisoformat(parts[0])
        deployment = date.fromisoformat(parts[1]) if len(parts) > 1 else model + timedelta(days=_DEPLOYMENT_EXTRA_DAYS)
    except ValueError:
        raise ValueError(f"training config {text!r}: dates must be YYYY-MM-DD") from None
    return TrainingConfigVersion(version.strip(), model, deployment)
