"""Training config versions and expiry dates, against an injected clock."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from ctc_spark.cli import build_parser
from ctc_spark.cli.emulator import config_from_args
from ctc_spark.emulator.authoring_projects import ApiProblem, parse_training
from ctc_spark.emulator.lifecycle import (
    CURRENT_VERSION,
    DOCUMENTED,
    TrainingConfigVersion,
    default_training_configs,
    find_training_config,
    parse_training_config,
)

NOW = datetime(2031, 3, 4, 12, 0, tzinfo=timezone.utc).timestamp()
ASSETS = {"documents": [{"location": f"d{i}.txt", "class": {"category": "A"}} for i in range(12)]}


def test_defaults_keep_the_documented_config_and_add_a_current_one_from_the_clock() -> None:
    documented, current = default_training_configs(NOW)
    assert documented == DOCUMENTED == TrainingConfigVersion("2022-05-01", date(2025, 10, 22), date(2026, 10, 22))
    assert current == TrainingConfigVersion(CURRENT_VERSION, date(2032, 3, 3), date(2033, 3, 3))
    assert current.public() == {"trainingConfigVersion": CURRENT_VERSION, "modelExpirationDate": "2032-03-03"}


def test_latest_resolves_to_the_last_listed_version() -> None:
    known = [c.version for c in default_training_configs(NOW)]
    assert parse_training({"modelLabel": "m"}, ASSETS, known)["trainingConfigVersion"] == CURRENT_VERSION
    body = {"modelLabel": "m", "trainingConfigVersion": "2022-05-01"}
    assert parse_training(body, ASSETS, known)["trainingConfigVersion"] == "2022-05-01"
    with pytest.raises(ApiProblem, match="'2019-01-01' is not one of"):
        parse_training({"modelLabel": "m", "trainingConfigVersion": "2019-01-01"}, ASSETS, known)


def test_an_unknown_version_in_old_state_falls_back_to_latest() -> None:
    configs = default_training_configs(NOW)
    assert find_training_config(configs, "2022-05-01") is configs[0]
    assert find_training_config(configs, "gone") is configs[-1]


def test_parse_training_config() -> None:
    assert parse_training_config("v1=2030-01-02") == TrainingConfigVersion("v1", date(2030, 1, 2), date(2031, 1, 2))
    assert parse_training_config(" v2 = 2030-01-02, 2030-06-01") == TrainingConfigVersion(
        "v2", date(2030, 1, 2), date(2030, 6, 1)
    )
    for bad in ("v1", "=2030-01-01", "v1=01/02/2030", "v1=2030-01-01,2030-02-01,2030-03-01"):
        with pytest.raises(ValueError, match="training config"):
            parse_training_config(bad)


def test_serve_takes_training_configs_in_order() -> None:
    args = build_parser().parse_args(
        ["emulator", "serve", "--training-config", "a=2020-01-01", "--training-config", "b=2030-01-01,2031-01-01"]
    )
    config = config_from_args(args, env={})
    assert [c.version for c in config.training_configs] == ["a", "b"]
    assert config_from_args(build_parser().parse_args(["emulator", "serve"]), env={}).training_configs == ()
