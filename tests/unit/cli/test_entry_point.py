"""The `ctc-spark` entry point fails the process however it is called, as a Databricks wheel task calls it.

A `python_wheel_task` loads the `[project.scripts]` entry point, sets `sys.argv` to the task's parameters and calls
the function, ignoring what it returns: a failure must raise (or exit), or the task shows as succeeded and the
tasks that depend on it run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# What a wheel-task runner does: find the entry point by name, call it, drop the return value.
_RUNNER = textwrap.dedent(
    """
    import sys
    from importlib.metadata import entry_points

    (ep,) = entry_points(group="console_scripts", name="ctc-spark")
    function = ep.load()
    print("module:", sys.modules[ep.module].__file__, flush=True)
    sys.argv = ["ctc_spark", *sys.argv[1:]]
    function()  # the return value is ignored, as python_wheel_task ignores it
    print("returned normally", flush=True)
    """
)


def _run_as_wheel_task(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "CTC_SPARK_", "SPARK_REMOTE"))}
    env["PYTHONPATH"] = str(ROOT)  # the entry point's module must resolve to this tree
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_entry_point_is_registered_under_the_console_scripts_group() -> None:
    from importlib.metadata import entry_points

    (ep,) = entry_points(group="console_scripts", name="ctc-spark")
    assert ep.value == "ctc_spark.cli:main"


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        # A CTCError (the settings file is missing), raised before any Spark session is started.
        (["classify", "--config", "missing.toml", "--project", "p", "--deployment", "d", "--kind", "single",
          "--input", "in", "--tables", "t"], 1, "config file not found"),
        # The same through the flags the bundle passes: an endpoint that is not a URL.
        (["classify", "--endpoint", "not-a-url", "--key-secret", "ctc/language-key", "--project", "p",
          "--deployment", "d", "--kind", "single", "--input", "in", "--tables", "t"], 1, "must be an https URL"),
        # A usage error (argparse).
        (["classify", "--project", "p"], 2, "usage: ctc-spark"),
    ],
    ids=["ctc-error", "bad-endpoint-flag", "usage-error"],
)  # fmt: skip
def test_a_failing_command_ends_the_process_non_zero_when_the_return_value_is_ignored(
    argv: list[str], status: int, message: str, tmp_path: Path
) -> None:
    done = _run_as_wheel_task(argv, tmp_path)
    assert f"module: {ROOT}" in done.stdout, done.stdout + done.stderr
    assert "returned normally" not in done.stdout, done.stderr
    assert done.returncode == status, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr  # one clear line, not a stack


def test_a_successful_command_returns_zero_and_the_process_succeeds(tmp_path: Path) -> None:
    done = _run_as_wheel_task(["classify", "--help"], tmp_path)
    assert done.returncode == 0 and "--key-secret" in done.stdout


def test_service_flags_stand_in_for_the_variables_while_the_command_runs() -> None:
    from ctc_spark.cli import build_parser, service_flags

    environ = {"AZURE_LANGUAGE_KEY": "from-the-cluster", "AZURE_LANGUAGE_ENDPOINT": "https://old.example"}
    args = build_parser().parse_args(
        ["classify", "--endpoint", "https://res.example", "--key-secret", "ctc/language-key", "--project", "p",
         "--deployment", "d", "--kind", "single", "--input", "i", "--tables", "t"]
    )  # fmt: skip
    with service_flags(args, environ):
        assert environ == {
            "AZURE_LANGUAGE_ENDPOINT": "https://res.example",
            "AZURE_LANGUAGE_KEY_SECRET": "ctc/language-key",
        }
    assert environ == {"AZURE_LANGUAGE_KEY": "from-the-cluster", "AZURE_LANGUAGE_ENDPOINT": "https://old.example"}
    untouched = build_parser().parse_args(["runs", "--tables", "t"])
    with service_flags(untouched, environ):
        assert environ["AZURE_LANGUAGE_KEY"] == "from-the-cluster"
