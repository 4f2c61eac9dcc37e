"""One check for options that take one of a few values."""

from __future__ import annotations

import pytest

from ctc_spark.config.choices import check_choice
from ctc_spark.engine.planning.model import check_skip_by
from ctc_spark.engine.planning.retry import check_retry_errors
from ctc_spark.errors import ConfigError


def test_a_known_value_comes_back_and_an_unknown_one_is_named_with_the_choices() -> None:
    assert check_choice("b", ("a", "b"), what="letter", key="--letter") == "b"
    with pytest.raises(ConfigError) as raised:
        check_choice("B", ("a", "b"), what="letter", key="--letter")
    assert "'B'" in str(raised.value) and "a, b" in str(raised.value) and raised.value.key == "--letter"


@pytest.mark.parametrize(("check", "key"), [(check_skip_by, "--skip-by"), (check_retry_errors, "--retry-errors")])
def test_the_options_use_it(check, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check("sometimes")
    assert raised.value.key == key and "sometimes" in str(raised.value)
