"""The `ctc-spark` parser: --config and -v before or after the subcommand, usage mistakes exit 2, settings first."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ctc_spark.cli import build_parser, main
from ctc_spark.cli.classify import add_classify_arguments, run_classify
from ctc_spark.cli.entry import run_entry_point

CLASSIFY = ["--project", "p", "--deployment", "d", "--kind", "single", "--input", "in", "--tables", "./t"]


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\ncals_per_minute = 5\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "a.toml", "-v", "classify", *CLASSIFY],
        ["classify", "--config", "a.toml", "-v", *CLASSIFY],
        ["classify", *CLASSIFY, "-v", "--config", "a.toml"],
        ["-v", "classify", *CLASSIFY, "--config", "a.toml"],
    ],
)
def test_config_and_verbose_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.config == "a.toml" and args.verbose is True and args.project == "p"


def test_nested_subcommands_take_them_too() -> None:
    args = build_parser().parse_args(["local", "status", "--config", "b.toml"])
    assert args.config == "b.toml" and args.verbose is False
    assert build_parser().parse_args(["runs", "--tables", "t"]).config is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["classify", "--project", "p"],
        ["classify", *CLASSIFY, "--bogus"],
        ["nope"],
        ["local"],
        ["deploy", "--project", "p", "--model", "m"],
        ["projects", "delete"],
    ],
)
def test_usage_mistakes_exit_2_through_argparse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: ctc-spark" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value"), [("--project", "a?b"), ("--project", "../other"), ("--deployment", "prod/../x")]
)
def test_a_name_the_service_refuses_is_a_one_line_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["classify", *CLASSIFY]
    argv[argv.index(flag) + 1] = value
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and repr(value) in errors[0]


@pytest.mark.parametrize("where", ["after", "before"])
def test_a_misspelt_key_fails_before_spark_naming_it(
    where: str, bad_config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctc_spark.io.session as session

    def no_spark(*_: object, **__: object) -> None:
        raise AssertionError("a Spark session was started before the settings were checked")

    monkeypatch.setattr(session, "get_spark", no_spark)
    config = ["--config", str(bad_config)]
    argv = ["classify", *CLASSIFY, *config] if where == "after" else [*config, "classify", *CLASSIFY]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "cals_per_minute" in err and "did you mean calls_per_minute?" in err and str(bad_config) in err


@pytest.mark.parametrize(
    ("tables", "run_id", "named"),
    [
        ("ctc", None, "--tables 'ctc' is neither"),
        ("main.ctc-prod", None, "--tables 'main.ctc-prod' is neither"),
        ("x` WHERE 1=1 --", None, "--tables 'x` WHERE 1=1 --' is neither"),
        ("./t", "nightly/1", "run id 'nightly/1' is not valid"),
        ("./t", "x" * 101, "is not valid"),
    ],
)
def test_bad_tables_and_run_ids_are_refused_in_one_line_before_spark(
    tables: str, run_id: str | None, named: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctc_spark.io.session as session

    def no_spark(*_: object, **__: object) -> None:
        raise AssertionError("a Spark session was started before --tables and --run-id were checked")

    monkeypatch.setattr(session, "get_spark", no_spark)
    argv = ["classify", *CLASSIFY[:-1], tables, *(["--run-id", run_id] if run_id else [])]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1, err


def test_jobs_entry_point_takes_the_same_flags(bad_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(argv: list[str]) -> int:
        return run_entry_point("jobs/classify.py", "Classify.", add_classify_arguments, run_classify, argv)

    with pytest.raises(SystemExit) as failed:
        run([*CLASSIFY, "-v", "--config", str(bad_config)])
    assert failed.value.code == 1
    assert "did you mean calls_per_minute?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        run(["--project", "p"])
    assert info.value.code == 2


def test_help_names_the_default_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["classify", "--help"])
    assert "--config" in capsys.readouterr().out
    assert isinstance(build_parser(), argparse.ArgumentParser)


def test_maintain_and_retry_errors_parse() -> None:
    args = build_parser().parse_args(["maintain", "--tables", "t", "--retention-hours", "200", "--dry-run"])
    assert (args.tables, args.retention_hours, args.dry_run) == ("t", 200.0, True)
    assert build_parser().parse_args(["maintain", "--tables", "t"]).retention_hours == 168.0
    assert build_parser().parse_args(["classify", *CLASSIFY, "--retry-errors", "all"]).retry_errors == "all"
    assert build_parser().parse_args(["classify", *CLASSIFY]).retry_errors is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["classify", *CLASSIFY, "--retry-errors", "sometimes"])
