"""The Databricks bundle, checked offline per target: every resource loads with databricks-bundles' typed models
(which refuse unknown fields), and the properties a first real deploy depends on hold for dev and for prod.

`_target` does what `databricks bundle validate -t <target>` does to the files, as far as these checks need:
the target's variables and resources are merged over the shared ones, `${var.*}`, `${workspace.*}`,
`${bundle.*}` and `${resources.*}` references are substituted, and development mode pauses schedules that do not
set `pause_status`. Values a deploy passes with `--var` come from `GIVEN`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the dev extra (make setup)")
jobs_models = pytest.importorskip("databricks.bundles.jobs", reason="databricks-bundles is in the dev extra")

ROOT = Path(__file__).resolve().parents[2]
USER, SHORT_NAME = "jane.doe@example.com", "jane_doe"
SERVICE_PRINCIPAL = "9f0c1a52-3d4e-4b6f-8a7b-1c2d3e4f5a6b"
ENDPOINT = "https://ctc-test.cognitiveservices.azure.com"
# What `databricks bundle deploy -t <target> --var name=value` supplies for the variables without a value.
GIVEN: dict[str, dict[str, Any]] = {
    "dev": {"language_endpoint": ENDPOINT, "warehouse_id": "0123456789abcdef"},
    "prod": {
        "language_endpoint": ENDPOINT,
        "warehouse_id": "0123456789abcdef",
        "run_as_identity": SERVICE_PRINCIPAL,
        "owners": "ctc-owners",
        "notify_email": "ctc-team@example.com",
    },
}
TARGETS = ("dev", "prod")
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
_KEYED_LISTS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "environments": "environment_key"}
_JOB_PARAMETER = re.compile(r"\{\{job\.parameters\.([a-z_]+)\}\}")


def _read_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


@cache
def _bundle() -> dict[str, Any]:
    return _read_yaml(ROOT / "databricks.yml")


def _resource_files() -> list[Path]:
    return [path for pattern in _bundle()["include"] for path in sorted(ROOT.glob(pattern))]


def _shared_resources() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in _resource_files():
        for kind, items in _read_yaml(path).get("resources", {}).items():
            for name, spec in items.items():
                assert name not in found.setdefault(kind, {}), f"{kind}.{name} defined twice ({path.name})"
                found[kind][name] = spec
    return found


def _merge(base: Any, override: Any) -> Any:
    """The CLI's target override: maps merge, task/cluster/environment lists merge by key, the rest is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if key in _KEYED_LISTS and key in merged:
                merged[key] = _merge_keyed(merged[key], value, _KEYED_LISTS[key])
            else:
                merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    return override


def _merge_keyed(base: list[dict[str, Any]], override: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    merged = {item[key]: item for item in base}
    for item in override:
        merged[item[key]] = _merge(merged.get(item[key], {}), item)
    return list(merged.values())


def _substitute(node: Any, lookup: dict[str, Any]) -> Any:
    """Replace `${path}` references found in `lookup`; a whole-string reference keeps the value's type."""
    if isinstance(node, dict):
        return {k: _substitute(v, lookup) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, lookup) for v in node]
    if not isinstance(node, str):
        return node
    whole = _REF.fullmatch(node)
    if whole and whole.group(1) in lookup:
        return lookup[whole.group(1)]
    return _REF.sub(lambda m: str(lookup[m.group(1)]) if m.group(1) in lookup else m.group(0), node)


def _variables(target: str, **given: Any) -> dict[str, Any]:
    declared = _bundle()["variables"]
    values = {name: spec.get("default") for name, spec in declared.items()}
    values.update(_bundle()["targets"][target].get("variables", {}))
    values.update({**GIVEN[target], **given})
    missing = sorted(name for name, value in values.items() if value is None)
    assert not missing, f"{target}: variables with no value: {missing}"
    return values


def _lookup(target: str, variables: dict[str, Any]) -> dict[str, Any]:
    lookup: dict[str, Any] = {f"var.{k}": v for k, v in variables.items()}
    lookup.update(
        {
            "workspace.current_user.userName": USER,
            "workspace.current_user.short_name": SHORT_NAME,
            "bundle.name": _bundle()["bundle"]["name"],
            "bundle.target": target,
            "workspace.file_path": f"/Workspace/Users/{USER}/.bundle/ctc-spark/{target}/files",
        }
    )
    for _ in range(3):  # variables may refer to other variables and to the workspace
        lookup = {k: _substitute(v, lookup) for k, v in lookup.items()}
    return lookup


def _resource_refs(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        f"resources.{kind}.{name}.{field}": value
        for kind, items in resources.items()
        for name, spec in items.items()
        for field, value in spec.items()
        if isinstance(value, str | int | float)
    }


def _target(target: str, **given: Any) -> dict[str, Any]:
    """The bundle as deployed to `target`: resources, run_as, permissions and workspace, references resolved."""
    spec = _bundle()["targets"][target]
    lookup = _lookup(target, _variables(target, **given))
    resources = _merge(_shared_resources(), spec.get("resources", {}))
    resources = _substitute(resources, lookup)
    resources = _substitute(resources, _resource_refs(resources))
    if spec.get("mode") == "development":
        for job in resources.get("jobs", {}).values():
            if "schedule" in job:
                job["schedule"].setdefault("pause_status", "PAUSED")
    resolved = {key: _substitute(spec.get(key), lookup) for key in ("run_as", "permissions", "workspace", "mode")}
    unresolved = sorted(set(_REF.findall(json.dumps([resources, resolved]))))
    assert not unresolved, f"{target}: references this test cannot resolve: {unresolved}"
    return {"resources": resources, **resolved}


def _jobs(target: str, **given: Any) -> dict[str, Any]:
    return {name: _load(job) for name, job in _target(target, **given)["resources"]["jobs"].items()}


def _load(job: dict[str, Any]) -> Any:
    return jobs_models.Job.from_dict(copy.deepcopy(job))


def _wheel_tasks(job: Any) -> Iterator[Any]:
    return (task for task in job.tasks if task.python_wheel_task is not None)


def _arg(task: Any, flag: str) -> str | None:
    args = task.python_wheel_task.parameters
    return args[args.index(flag) + 1] if flag in args else None


def _argv(job: Any, task: Any) -> list[str]:
    """The task's arguments with `{{job.parameters.*}}` replaced by the job parameters' defaults."""
    defaults = {p.name: str(p.default) for p in job.parameters}
    return [_JOB_PARAMETER.sub(lambda m: defaults[m.group(1)], a) for a in task.python_wheel_task.parameters]


def _runs_for(job: Any, compute: str) -> list[str]:
    """The wheel tasks of `job` that run when its condition tasks see `compute` (the only condition used)."""
    outcome = {
        t.task_key: str(t.condition_task.left == t.condition_task.right).lower()
        for t in job.tasks
        if t.condition_task is not None
    }
    running = []
    for task in _wheel_tasks(job):
        gates = [d for d in task.depends_on if d.task_key in outcome]
        if all(outcome[d.task_key] == d.outcome for d in gates):
            running.append(task.task_key)
    return running


# --- the files load, and every task's arguments are ones the CLI accepts


def test_every_referenced_variable_is_declared() -> None:
    declared = set(_bundle()["variables"])
    text = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "databricks.yml", *_resource_files()])
    used = {ref.removeprefix("var.") for ref in _REF.findall(text) if ref.startswith("var.")}
    assert used <= declared, sorted(used - declared)


def test_root_has_a_wheel_artifact_and_dev_prod_targets() -> None:
    bundle = _bundle()
    assert bundle["bundle"]["name"] == "ctc-spark"
    assert bundle["include"] == ["resources/*.yml"]
    targets = bundle["targets"]
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    assert targets["prod"]["mode"] == "production"


@pytest.mark.parametrize("target", TARGETS)
def test_every_job_loads_with_the_typed_models(target: str) -> None:
    jobs = _jobs(target)
    assert set(jobs) == {"classify", "maintain", "train"}
    for name, job in jobs.items():
        assert job.tasks, name
        assert job.max_concurrent_runs == 1, name


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ((), "max_concurent_runs"),
        (("schedule",), "timezone"),
        (("job_clusters", 0, "new_cluster"), "spark_env_var"),
        (("tasks", 1, "python_wheel_task"), "entrypoint"),
    ],
)
def test_a_misspelt_field_fails(where: tuple[Any, ...], field: str) -> None:
    job = copy.deepcopy(_target("dev")["resources"]["jobs"]["classify"])
    node: Any = job
    for step in where:
        node = node[step]
    node[field] = node.get(field, "x")
    with pytest.raises(ValueError, match=field):
        _load(job)


def _task_arguments() -> list[tuple[str, str, str, list[str]]]:
    """(target, job, task, argv) for every wheel task, `{{job.parameters.*}}` replaced by the parameters' defaults."""
    found = []
    for target in TARGETS:
        for name, job in _jobs(target).items():
            for task in _wheel_tasks(job):
                found.append((target, name, task.task_key, _argv(job, task)))
    return found


@pytest.mark.parametrize(
    ("target", "job", "task", "argv"), _task_arguments(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_task_passes_arguments_the_cli_accepts(target: str, job: str, task: str, argv: list[str]) -> None:
    from ctc_spark.cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.command == {"train": task, "maintain": "maintain"}.get(job, "classify")
    if job == "maintain":
        assert int(args.retention_hours) >= 168
    else:
        assert args.project == "tickets"


# --- failures fail, and train -> evaluate -> deploy stops at the first


def test_training_job_chains_train_evaluate_deploy_and_stops_at_a_failure() -> None:
    job = _jobs("prod")["train"]
    tasks = {t.task_key: t for t in job.tasks}
    assert list(tasks) == ["train", "evaluate", "deploy"]
    assert [d.task_key for d in tasks["evaluate"].depends_on] == ["train"]
    assert [d.task_key for d in tasks["deploy"].depends_on] == ["evaluate"]
    for key, task in tasks.items():
        assert task.python_wheel_task.entry_point == "ctc-spark"
        assert task.python_wheel_task.parameters[0] == key
        assert task.run_if is None or task.run_if.value == "ALL_SUCCESS", key  # a failed upstream skips it
        assert not task.max_retries, f"{key}: a retried training task would train or deploy twice"


# --- schedules: paused in dev, exactly one live classify job per tables in prod


def test_no_shared_resource_file_unpauses_anything() -> None:
    for path in _resource_files():
        assert "UNPAUSED" not in path.read_text(encoding="utf-8"), path.name


def test_no_job_in_dev_has_an_unpaused_schedule() -> None:
    for target in (_target("dev"), _target("dev", compute="serverless")):
        for name, job in target["resources"]["jobs"].items():
            if "schedule" in job:
                assert job["schedule"]["pause_status"] != "UNPAUSED", name
        for name, alert in target["resources"].get("alerts", {}).items():
            assert alert["schedule"].get("pause_status") == "PAUSED", name


@pytest.mark.parametrize("compute", ["classic", "serverless"])
def test_prod_has_exactly_one_scheduled_classify_job_per_tables(compute: str) -> None:
    scheduled: dict[str, list[str]] = {}
    for name, job in _jobs("prod", compute=compute).items():
        if job.schedule is None or job.schedule.pause_status.value != "UNPAUSED":
            continue
        for key in _runs_for(job, compute):
            task = next(t for t in job.tasks if t.task_key == key)
            if task.python_wheel_task.parameters[0] == "classify":
                scheduled.setdefault(_arg(task, "--tables"), []).append(f"{name}.{key}")
    assert list(scheduled.values()) == [[f"classify.classify_{compute}"]]


def test_the_compute_variable_chooses_the_engine_of_the_scheduled_job() -> None:
    for compute, engine in (("classic", "executors"), ("serverless", "driver")):
        job = _jobs("prod", compute=compute)["classify"]
        (key,) = _runs_for(job, compute)
        task = next(t for t in job.tasks if t.task_key == key)
        assert _arg(task, "--engine") == engine
        assert (task.job_cluster_key is not None) == (compute == "classic")
        assert (task.environment_key is not None) == (compute == "serverless")


def test_classify_retries_wait_longer_than_a_lease_goes_stale_and_wait_for_it() -> None:
    """A retry (or a repair) must not refuse on the dead attempt's lease: it waits it out, or takes it over."""
    from ctc_spark.engine.lease import STALE_SECONDS

    for target in TARGETS:
        tasks = list(_wheel_tasks(_jobs(target)["classify"]))
        assert tasks
        for task in tasks:
            assert task.max_retries and task.max_retries >= 1, task.task_key
            assert task.min_retry_interval_millis > STALE_SECONDS * 1000, task.task_key
            assert "--wait" in task.python_wheel_task.parameters, task.task_key


# --- the serverless job takes the endpoint and the secret's name from the bundle; no placeholder ships


def test_the_serverless_task_passes_the_endpoint_and_secret_name_variables() -> None:
    raw = {t["task_key"]: t for t in _shared_resources()["jobs"]["classify"]["tasks"]}
    args = raw["classify_serverless"]["python_wheel_task"]["parameters"]
    assert args[args.index("--endpoint") + 1] == "${var.language_endpoint}"
    assert args[args.index("--key-secret") + 1] == "${var.secret_scope}/${var.language_key_secret}"
    assert not (ROOT / "resources" / "serverless.toml").exists()


def test_the_serverless_task_arguments_load_the_bundles_endpoint_and_read_the_named_secret() -> None:
    from ctc_spark.cli import build_parser, service_flags
    from ctc_spark.config import load_settings

    job = _jobs("prod", compute="serverless")["classify"]
    task = next(t for t in job.tasks if t.task_key == "classify_serverless")
    argv = _argv(job, task)
    asked: list[tuple[str, str]] = []

    def secrets_get(scope: str, key: str) -> str:
        asked.append((scope, key))
        return "value-from-the-scope"

    environ: dict[str, str] = {}
    with service_flags(build_parser().parse_args(argv), environ):
        settings = load_settings(env=environ, secret_resolver=secrets_get)
    assert settings.service.primary.endpoint == ENDPOINT
    assert asked == [("ctc", "language-key")]
    assert "value-from-the-scope" not in repr(settings)


_PLACEHOLDER = re.compile(r"https?://(?:<|\{|\[|your|YOUR|example\b|resource\.)", re.IGNORECASE)


def _shipped_files() -> list[Path]:
    """What the jobs, the notebook, the dashboard and the alert read from the deployed bundle."""
    return [
        p
        for folder in ("resources", "notebooks", "sql")
        for p in sorted((ROOT / folder).rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    ]


def _values(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "description":
                yield from _values(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _values(v, key)
    elif isinstance(node, str):
        yield node


def test_no_shipped_file_contains_a_placeholder_endpoint() -> None:
    for path in _shipped_files():
        text = path.read_text(encoding="utf-8")
        assert not _PLACEHOLDER.search(text), f"{path.relative_to(ROOT)}: {_PLACEHOLDER.search(text)}"
    placeholders = [v for v in _values(_bundle()) if _PLACEHOLDER.search(v)]
    assert not placeholders, placeholders
    assert "default" not in _bundle()["variables"]["language_endpoint"]  # a deploy must name its endpoint


def test_local_templates_tests_and_benchmarks_are_not_synced_to_the_workspace() -> None:
    excluded = set(yaml.safe_load((ROOT / "databricks.yml").read_text())["sync"]["exclude"])
    assert {"conf/**", "tests/**", "bench/**"} <= excluded
    assert _PLACEHOLDER.search((ROOT / "conf" / "azure.toml").read_text()), "the template is why conf/ stays home"


def test_maintenance_is_scheduled_weekly_paused_in_dev_and_live_in_prod() -> None:
    dev, prod = _jobs("dev")["maintain"], _jobs("prod")["maintain"]
    assert dev.schedule is not None and prod.schedule is not None
    assert dev.schedule.pause_status is None or dev.schedule.pause_status.value == "PAUSED"
    assert prod.schedule.pause_status is not None and prod.schedule.pause_status.value == "UNPAUSED"
    for target in TARGETS:
        (task,) = _jobs(target)["maintain"].tasks
        params = task.python_wheel_task.parameters
        classify = next(t for t in _jobs(target)["classify"].tasks if t.task_key == "classify_serverless")
        written = classify.python_wheel_task.parameters
        # It maintains exactly the tables the classify job writes, and nothing a run could redirect.
        assert params[:2] == ["maintain", "--tables"]
        assert params[2] == written[written.index("--tables") + 1] and "{{" not in params[2]


def test_job_parameters_cannot_redirect_the_key_or_the_results() -> None:
    """A user allowed only to run a job overrides job parameters; task parameters are fixed at deploy time."""
    for target in TARGETS:
        for name, job in _jobs(target).items():
            assert {p.name for p in job.parameters} <= {"project", "kind", "input", "labels"}, (target, name)
            for task in _wheel_tasks(job):
                for flag in ("--endpoint", "--key-secret", "--config", "--tables", "--deployment", "--model"):
                    value = _arg(task, flag)
                    assert value is None or not _JOB_PARAMETER.search(value), (target, name, task.task_key, flag)
            for cluster in job.job_clusters:
                assert not any(_JOB_PARAMETER.search(v) for v in cluster.new_cluster.spark_env_vars.values())


# --- targets a team can own


def _task_values(target: str, flag: str) -> set[str]:
    return {
        value for job in _jobs(target).values() for task in _wheel_tasks(job) if (value := _arg(task, flag)) is not None
    }


@pytest.mark.parametrize("flag", ["--deployment", "--tables", "--model"])
def test_dev_and_prod_resolve_different_deployment_and_tables(flag: str) -> None:
    dev, prod = _task_values("dev", flag), _task_values("prod", flag)
    assert len(dev) == 1 and len(prod) == 1, (dev, prod)
    assert dev.isdisjoint(prod), flag
    if flag != "--tables":
        assert SHORT_NAME in next(iter(dev))  # each developer has their own


def test_prod_has_run_as_permissions_and_a_root_path_outside_workspace_shared() -> None:
    prod = _target("prod")
    run_as = jobs_models.JobRunAs.from_dict(prod["run_as"])
    assert run_as.service_principal_name == SERVICE_PRINCIPAL
    permissions = [jobs_models.JobPermission.from_dict(p) for p in prod["permissions"]]
    assert [(p.level.value, p.group_name) for p in permissions] == [("CAN_MANAGE", "ctc-owners")]
    for target in TARGETS:
        root = _target(target)["workspace"]["root_path"]
        assert root.startswith("/Workspace/Users/") and not root.startswith("/Workspace/Shared"), root
    assert _target("prod")["workspace"]["root_path"].startswith(f"/Workspace/Users/{SERVICE_PRINCIPAL}/")


@pytest.mark.parametrize(("target", "identity"), [("dev", USER), ("prod", SERVICE_PRINCIPAL)])
def test_the_dedicated_clusters_single_user_is_the_run_as_identity(target: str, identity: str) -> None:
    run_as = _target(target)["run_as"]
    assert (run_as or {}).get("service_principal_name", USER) == identity
    for name, job in _jobs(target).items():
        for cluster in job.job_clusters:
            assert cluster.new_cluster.data_security_mode.value == "DATA_SECURITY_MODE_DEDICATED"
            assert cluster.new_cluster.single_user_name == identity, (target, name)


# --- operations


@pytest.mark.parametrize("target", TARGETS)
def test_every_job_has_a_timeout_failure_notifications_and_tags(target: str) -> None:
    for name, job in _jobs(target).items():
        assert job.timeout_seconds and job.timeout_seconds > 0, name
        assert job.email_notifications.on_failure, name
        assert job.tags.get("app") == "ctc-spark", name
    classify = _jobs(target)["classify"]
    (rule,) = classify.health.rules
    assert rule.metric.value == "RUN_DURATION_SECONDS" and 0 < rule.value < classify.timeout_seconds
    assert classify.email_notifications.on_duration_warning_threshold_exceeded


def test_classic_clusters_take_a_cluster_policy_variable() -> None:
    for target in TARGETS:
        for name, job in _jobs(target, cluster_policy_id="policy-123").items():
            for cluster in job.job_clusters:
                assert cluster.new_cluster.policy_id == "policy-123", (target, name)
    raw = _shared_resources()["jobs"]
    assert all(
        c["new_cluster"]["policy_id"] == "${var.cluster_policy_id}"
        for j in raw.values()
        for c in j.get("job_clusters", [])
    )


def test_classic_variant_gets_the_key_from_the_secret_scope_as_an_environment_variable() -> None:
    job = _jobs("prod")["classify"]
    (cluster,) = job.job_clusters
    assert cluster.new_cluster.spark_version == "17.3.x-scala2.13"
    assert cluster.new_cluster.spark_env_vars["AZURE_LANGUAGE_KEY"] == "{{secrets/ctc/language-key}}"
    assert cluster.new_cluster.spark_env_vars["AZURE_LANGUAGE_ENDPOINT"] == ENDPOINT
    task = next(t for t in job.tasks if t.task_key == "classify_classic")
    assert task.job_cluster_key == cluster.job_cluster_key
    assert [lib.whl for lib in task.libraries] == ["../dist/*.whl"]


def test_serverless_variant_has_the_wheel_as_a_dependency() -> None:
    job = _jobs("prod")["classify"]
    (env,) = job.environments
    task = next(t for t in job.tasks if t.task_key == "classify_serverless")
    assert task.environment_key == env.environment_key and not task.libraries and task.job_cluster_key is None
    assert env.spec.dependencies == ["../dist/*.whl"]


def test_the_wheel_has_a_dynamic_version_and_dist_is_cleaned_before_the_build() -> None:
    (artifact,) = _bundle()["artifacts"].values()
    assert artifact["type"] == "whl" and artifact["dynamic_version"] is True
    clean, _, build = artifact["build"].partition("&&")
    assert "rmtree('dist'" in clean and "wheel" in build and "dist" in build


# --- Unity Catalog


def test_unity_catalog_schema_volume_and_secret_scope() -> None:
    from databricks.bundles.schemas import Schema
    from databricks.bundles.secret_scopes import SecretScope
    from databricks.bundles.volumes import Volume

    for target in TARGETS:
        resources = _target(target)["resources"]
        schema = Schema.from_dict(copy.deepcopy(resources["schemas"]["ctc"]))
        volume = Volume.from_dict(copy.deepcopy(resources["volumes"]["corpus"]))
        assert (volume.catalog_name, volume.schema_name) == (schema.catalog_name, schema.name)
        assert _task_values(target, "--tables") == {f"{schema.catalog_name}.{schema.name}"}
    prod = _target("prod")["resources"]
    grants = {g["principal"]: set(g["privileges"]) for g in prod["schemas"]["ctc"]["grants"]}
    assert {"USE_SCHEMA", "CREATE_TABLE", "SELECT", "MODIFY"} <= grants[SERVICE_PRINCIPAL]
    Schema.from_dict(copy.deepcopy(prod["schemas"]["ctc"]))
    scope = SecretScope.from_dict(copy.deepcopy(prod["secret_scopes"]["ctc"]))
    assert scope.name == "ctc"
    assert ("READ", SERVICE_PRINCIPAL) in {(p.level.value, p.service_principal_name) for p in scope.permissions}


# --- the dashboard and the alert


_IDENTIFIER = re.compile(r"IDENTIFIER\(:tables \|\| '\.([a-z_]+)'\)")


def _dashboard_query(name: str) -> str:
    """sql/<name>.sql as a dashboard dataset: tables named in the dashboard's default catalog and schema."""
    text = (ROOT / "sql" / f"{name}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("-- Parameters:")]
    return _IDENTIFIER.sub(r"\1", "".join(lines))


@pytest.mark.parametrize("target", TARGETS)
def test_the_dashboard_loads_with_the_models_and_reads_the_schemas_tables(target: str) -> None:
    from databricks.bundles.dashboards import Dashboard

    resources = _target(target)["resources"]
    spec = resources["dashboards"]["results"]
    dashboard = Dashboard.from_dict(copy.deepcopy(spec))
    schema = resources["schemas"]["ctc"]
    assert (dashboard.dataset_catalog, dashboard.dataset_schema) == (schema["catalog_name"], schema["name"])
    assert (ROOT / "resources" / spec["file_path"]).is_file()


def test_the_dashboards_datasets_are_the_sql_queries_and_its_widgets_use_them() -> None:
    content = json.loads((ROOT / "resources" / "ctc_spark.lvdash.json").read_text(encoding="utf-8"))
    datasets = {d["name"]: "".join(d["queryLines"]) for d in content["datasets"]}
    assert set(datasets) >= {"class_counts", "errors_by_code", "run_history", "run_throughput", "error_rate"}
    for name, query in datasets.items():
        assert query == _dashboard_query(name), f"dataset {name} differs from sql/{name}.sql"
        assert ":tables" not in query and "IDENTIFIER" not in query
    widgets = [item["widget"] for page in content["pages"] for item in page["layout"]]
    assert widgets and len({w["name"] for w in widgets}) == len(widgets)
    for widget in widgets:
        (query,) = widget["queries"]
        dataset = query["query"]["datasetName"]
        assert dataset in datasets, widget["name"]
        for field in query["query"]["fields"]:
            column = re.search(r"`([a-z_]+)`", field["expression"])
            assert column and re.search(rf"\b{column.group(1)}\b", datasets[dataset]), (widget["name"], field)
        names = {f["name"] for f in query["query"]["fields"]}
        encodings = widget["spec"]["encodings"]
        used = [e["fieldName"] for e in encodings.get("columns", [])]
        used += [e["fieldName"] for k, e in encodings.items() if k != "columns"]
        assert set(used) <= names, widget["name"]


def test_the_alert_runs_the_error_rate_query_on_the_schema_and_notifies() -> None:
    from databricks.bundles.alerts import Alert

    for target in TARGETS:
        resources = _target(target)["resources"]
        alert = Alert.from_dict(copy.deepcopy(resources["alerts"]["error_rate"]))
        schema = resources["schemas"]["ctc"]
        tables = f"{schema['catalog_name']}.{schema['name']}"
        expected = _IDENTIFIER.sub(rf"{tables}.\1", (ROOT / "sql" / "error_rate.sql").read_text())
        body = [line for line in expected.splitlines() if not line.startswith("--")]
        assert alert.query_text.splitlines() == body
        assert alert.evaluation.source.name == "error_rate"
        assert alert.evaluation.comparison_operator.value == "GREATER_THAN"
        assert [s.user_email for s in alert.evaluation.notification.subscriptions] == [
            _variables(target)["notify_email"].replace("${workspace.current_user.userName}", USER)
        ]
    assert _target("prod")["resources"]["alerts"]["error_rate"]["schedule"]["pause_status"] == "UNPAUSED"
