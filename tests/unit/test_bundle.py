"""The Databricks bundle, checked offline: every job loads with databricks-bundles' models, which refuse unknown fields."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the dev extra (make setup)")
jobs_models = pytest.importorskip("databricks.bundles.jobs", reason="databricks-bundles is in the dev extra")

ROOT = Path(__file__).resolve().parents[2]
# `databricks bundle deploy --var language_endpoint=...` supplies the variables without a default.
GIVEN = {"language_endpoint": "https://example.cognitiveservices.azure.com"}
_VAR = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")


def _bundle() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "databricks.yml").read_text(encoding="utf-8"))
    return loaded


def _resolve(node: Any, variables: dict[str, Any]) -> Any:
    """Substitute `${var.name}` the way the CLI does: a whole-string reference keeps the value's type."""
    if isinstance(node, dict):
        return {k: _resolve(v, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, variables) for v in node]
    if not isinstance(node, str):
        return node
    whole = _VAR.fullmatch(node)
    if whole:
        return variables[whole.group(1)]
    return _VAR.sub(lambda m: str(variables[m.group(1)]), node)


def _variables() -> dict[str, Any]:
    declared = _bundle()["variables"]
    values = {name: spec.get("default", GIVEN.get(name)) for name, spec in declared.items()}
    missing = sorted(name for name, value in values.items() if value is None)
    assert not missing, f"variables with no default and no test value: {missing}"
    return values


def _job_dicts() -> dict[str, dict[str, Any]]:
    """Every job of every included resources file, with `${var.*}` resolved."""
    bundle = _bundle()
    found: dict[str, dict[str, Any]] = {}
    for pattern in bundle["include"]:
        for path in sorted(ROOT.glob(pattern)):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            for name, job in doc.get("resources", {}).get("jobs", {}).items():
                assert name not in found, f"job {name} defined twice ({path.name})"
                found[name] = _resolve(job, _variables())
    return found


def _load(job: dict[str, Any]) -> Any:
    return jobs_models.Job.from_dict(copy.deepcopy(job))


def test_every_referenced_variable_is_declared() -> None:
    declared = set(_bundle()["variables"])
    text = "\n".join(p.read_text(encoding="utf-8") for p in ROOT.glob("resources/*.yml"))
    assert set(_VAR.findall(text)) <= declared


def test_root_has_a_wheel_artifact_and_dev_prod_targets() -> None:
    bundle = _bundle()
    assert bundle["bundle"]["name"] == "ctc-spark"
    assert bundle["include"] == ["resources/*.yml"]
    (artifact,) = bundle["artifacts"].values()
    assert artifact["type"] == "whl" and "wheel" in artifact["build"]
    targets = bundle["targets"]
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    assert targets["prod"]["mode"] == "production"


def test_every_job_loads_with_the_typed_models() -> None:
    jobs = _job_dicts()
    assert set(jobs) == {"classify_classic", "classify_serverless", "train"}
    for name, job in jobs.items():
        loaded = _load(job)
        assert loaded.tasks, name
        assert loaded.max_concurrent_runs == 1, name


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ((), "max_concurent_runs"),
        (("schedule",), "timezone"),
        (("job_clusters", 0, "new_cluster"), "spark_env_var"),
        (("tasks", 0, "python_wheel_task"), "entrypoint"),
    ],
)
def test_a_misspelt_field_fails(where: tuple[Any, ...], field: str) -> None:
    job = copy.deepcopy(_job_dicts()["classify_classic"])
    node: Any = job
    for step in where:
        node = node[step]
    node[field] = node.get(field, "x")
    with pytest.raises(ValueError, match=field):
        _load(job)


def test_scheduled_classification_has_its_parameters_in_both_variants() -> None:
    jobs = _job_dicts()
    for name in ("classify_classic", "classify_serverless"):
        job = _load(jobs[name])
        assert job.schedule.quartz_cron_expression == "0 0 2 * * ?"
        assert job.schedule.timezone_id == "UTC"
        params = {p.name for p in job.parameters}
        assert {"project", "deployment", "kind", "input", "tables"} <= params, name
        (task,) = job.tasks
        assert task.python_wheel_task.package_name == "ctc_spark"
        assert task.python_wheel_task.entry_point == "ctc-spark"
        args = task.python_wheel_task.parameters
        for param in ("project", "deployment", "kind", "input", "tables"):
            assert args[args.index(f"--{param}") + 1] == f"{{{{job.parameters.{param}}}}}", (name, param)


def test_classic_variant_runs_executors_on_a_dedicated_cluster_with_the_key_from_a_secret_scope() -> None:
    job = _load(_job_dicts()["classify_classic"])
    (cluster,) = job.job_clusters
    spec = cluster.new_cluster
    assert spec.data_security_mode.value == "DATA_SECURITY_MODE_DEDICATED"
    assert spec.spark_version == "17.3.x-scala2.13"
    assert spec.spark_env_vars["AZURE_LANGUAGE_KEY"] == "{{secrets/ctc/language-key}}"
    (task,) = job.tasks
    assert task.job_cluster_key == cluster.job_cluster_key
    assert [lib.whl for lib in task.libraries] == ["../dist/*.whl"]
    args = task.python_wheel_task.parameters
    assert args[0] == "classify" and args[args.index("--engine") + 1] == "executors"


def test_serverless_variant_runs_the_driver_engine_with_the_wheel_as_a_dependency() -> None:
    job = _load(_job_dicts()["classify_serverless"])
    assert not job.job_clusters
    (env,) = job.environments
    (task,) = job.tasks
    assert task.environment_key == env.environment_key
    assert task.job_cluster_key is None and not task.libraries
    assert env.spec.dependencies == ["../dist/*.whl"]
    args = task.python_wheel_task.parameters
    assert args[args.index("--engine") + 1] == "driver"
    # No cluster environment variables on serverless: the settings file names the key's secret.
    config = args[args.index("--config") + 1]
    assert config == "{{job.parameters.config}}"
    default = next(p.default for p in job.parameters if p.name == "config")
    assert default.endswith("/resources/serverless.toml") and (ROOT / "resources" / "serverless.toml").is_file()


def test_training_job_chains_train_evaluate_deploy() -> None:
    job = _load(_job_dicts()["train"])
    tasks = {t.task_key: t for t in job.tasks}
    assert list(tasks) == ["train", "evaluate", "deploy"]
    assert [d.task_key for d in tasks["evaluate"].depends_on] == ["train"]
    assert [d.task_key for d in tasks["deploy"].depends_on] == ["evaluate"]
    for key, task in tasks.items():
        assert task.python_wheel_task.entry_point == "ctc-spark"
        assert task.python_wheel_task.parameters[0] == key


def test_serverless_settings_file_names_the_key_and_loads_with_a_dbutils_stand_in() -> None:
    from ctc_spark.config import load_settings

    asked: list[tuple[str, str]] = []

    def secrets_get(scope: str, key: str) -> str:
        asked.append((scope, key))
        return "value-from-the-scope"

    settings = load_settings(ROOT / "resources" / "serverless.toml", env={}, secret_resolver=secrets_get)
    assert asked == [("ctc", "language-key")]
    key = settings.service.primary.key
    assert key is not None and key.reveal() == "value-from-the-scope"
    assert "value-from-the-scope" not in repr(settings)


def _task_arguments() -> list[tuple[str, str, list[str]]]:
    """(job, task, argv) for every wheel task, with `{{job.parameters.*}}` replaced by the parameters' defaults."""
    found = []
    for name, job in _job_dicts().items():
        defaults = {f"{{{{job.parameters.{p['name']}}}}}": str(p["default"]) for p in job["parameters"]}
        for task in job["tasks"]:
            argv = [defaults.get(arg, arg) for arg in task["python_wheel_task"]["parameters"]]
            found.append((name, task["task_key"], argv))
    return found


def _parser_has_engine_flag() -> bool:
    from ctc_spark.cli import build_parser

    argv = ["classify", "--engine", "driver", "--project", "p", "--deployment", "d", "--kind", "single"]
    try:
        build_parser().parse_args([*argv, "--input", "i", "--tables", "t"])
    except SystemExit:
        return False
    return True


@pytest.mark.parametrize(("job", "task", "argv"), _task_arguments(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_task_passes_arguments_the_cli_accepts(job: str, task: str, argv: list[str]) -> None:
    from ctc_spark.cli import build_parser

    if "--engine" in argv and not _parser_has_engine_flag():
        pytest.skip("`ctc-spark classify --engine` comes with the driver engine (the Spark Connect work)")
    args = build_parser().parse_args(argv)
    assert args.command == (task if job == "train" else "classify")
    assert args.project == "tickets"
