"""The layers point one way: cli → engine | training | local → io | service → config → errors.

Every module's imports are read from its source (all of them, including lazy imports inside functions and
`TYPE_CHECKING` blocks); engine and training never import each other, and the emulator imports nothing of the
package above errors/config (it has its own config). Inside the engine: the task side (`engine/task/`) reaches
no pyspark, even through other modules; planning never imports the task side; and only the ledger package
(`engine/ledger/`) writes the `jobs` and `results` tables.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ctc_spark"

_BASE = {"config", "errors"}
# What each part may import besides itself. "ctc_spark" is the package's `__init__`, the public API.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "io": _BASE,
    "service": _BASE,
    "emulator": _BASE,
    "engine": {"io", "service"} | _BASE,
    "training": {"io", "service"} | _BASE,
    "local": {"io", "service"} | _BASE,
    "cli": {"engine", "training", "local", "emulator", "io", "service"} | _BASE,
    "ctc_spark": {"engine", "training", "local", "io", "service"} | _BASE,
}
# The demo runs training and classification end to end: an application, like the CLI, that lives with the
# local services it starts.
PART_OF = {"ctc_spark.local.demo": "cli"}


def part(module: str) -> str:
    """The layer a dotted module name belongs to."""
    if module in PART_OF:
        return PART_OF[module]
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def module_name(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every `ctc_spark` module that `source` imports, wherever the import statement is."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from ctc_spark import engine` names a submodule, not an attribute.
            found.update(f"{base}.{alias.name}" for alias in node.names if base == "ctc_spark")
    return {name for name in found if name == "ctc_spark" or name.startswith("ctc_spark.")}


def collect_imports(root: Path = PACKAGE) -> dict[str, set[str]]:
    return {
        module_name(path, root): imports_of(
            path.read_text(encoding="utf-8"), module_name(path, root), is_package=path.name == "__init__.py"
        )
        for path in sorted(root.rglob("*.py"))
    }


def crossings(imports: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import that crosses a layer, as 'importer -> imported (part -> part)'."""
    known = {".".join(["ctc_spark", p]) for p in ALLOWED if p != "ctc_spark"}
    found = []
    for importer, targets in sorted(imports.items()):
        source = part(importer)
        for target in sorted(targets):
            if target == "ctc_spark" and importer != "ctc_spark":
                found.append(f"{importer} -> {target} (the public API is for users, not for the package)")
                continue
            dest = part(target)
            if target.count(".") and ".".join(target.split(".")[:2]) not in known:
                continue  # `from ctc_spark import __version__` style names are not parts
            if dest != source and dest not in ALLOWED[source]:
                found.append(f"{importer} -> {target} ({source} -> {dest})")
    return found


def test_every_part_is_known() -> None:
    parts = {part(m) for m in collect_imports()}
    assert parts <= set(ALLOWED), parts - set(ALLOWED)
    assert {"engine", "training", "emulator", "cli", "service", "io"} <= parts


def test_no_layer_is_crossed() -> None:
    imports = collect_imports()
    assert "ctc_spark.engine.ledger.service" in imports["ctc_spark.engine.stage"]  # the collector sees real imports
    assert crossings(imports) == []


def test_the_checker_fails_on_a_crossing() -> None:
    clean = collect_imports()
    for importer, target in [
        ("ctc_spark.engine.run", "ctc_spark.training.workflow"),
        ("ctc_spark.training.workflow", "ctc_spark.engine.run"),
        ("ctc_spark.emulator.app", "ctc_spark.service.wire"),
        ("ctc_spark.service.wire", "ctc_spark.io.tables"),
        ("ctc_spark.config.loader", "ctc_spark.service"),
        ("ctc_spark.errors", "ctc_spark.config"),
        ("ctc_spark.engine.run", "ctc_spark"),
    ]:
        crossed = {**clean, importer: clean[importer] | {target}}
        assert [c for c in crossings(crossed) if c.startswith(f"{importer} -> {target} ")], (importer, target)


def test_lazy_and_relative_imports_are_read() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ctc_spark.io.tables import TableLocation\n"
        "def f():\n    import ctc_spark.engine.run\n    from ..training import workflow\n"
        "    from ctc_spark import engine\n"
    )
    found = imports_of(source, "ctc_spark.service.wire")
    assert found == {
        "ctc_spark.io.tables",
        "ctc_spark.engine.run",
        "ctc_spark.training",
        "ctc_spark",
        "ctc_spark.engine",
    }
    assert len(crossings({"ctc_spark.service.wire": found})) == 5


# -- inside the engine: what the driver decides, what a task does, and the ledger ------------------------------
TASK, PLANNING, LEDGER = "ctc_spark.engine.task", "ctc_spark.engine.planning", "ctc_spark.engine.ledger"
# The task side runs in executors' Python workers: the ledger's contract and its HTTP client are all it may take
# from the engine.
TASK_MAY_IMPORT = (TASK, f"{LEDGER}.protocol", f"{LEDGER}.states", f"{LEDGER}.client", f"{PLANNING}.packing")
TABLE_WRITES = {"append_rows", "merge_rows", "delete_rows", "create_table_with_rows", "overwrite_rows"}
LEDGER_TABLES = {"JOBS", "RESULTS", "jobs", "results"}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def side_crossings(imports: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import from the task side into the rest of the engine, and from planning into the task side."""
    found = []
    for importer, targets in sorted(imports.items()):
        for target in sorted(targets):
            if _inside(importer, PLANNING) and _inside(target, TASK):
                found.append(f"{importer} -> {target} (planning -> task)")
            if (
                _inside(importer, TASK)
                and _inside(target, "ctc_spark.engine")
                and not any(_inside(target, ok) for ok in TASK_MAY_IMPORT)
            ):
                found.append(f"{importer} -> {target} (task -> engine)")
    return found


def third_party_of(source: str) -> set[str]:
    """The top-level names of every non-`ctc_spark` module `source` imports, lazily or not."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names - {"ctc_spark"}


def reaching(start: str, imports: Mapping[str, Iterable[str]], third: Mapping[str, set[str]], name: str) -> list[str]:
    """The modules that `start` imports, directly or through other `ctc_spark` modules, that import `name`."""
    seen, todo, hits = set(), [start], []
    while todo:
        module = todo.pop()
        if module in seen or module not in imports:
            continue
        seen.add(module)
        if name in third.get(module, set()):
            hits.append(module)
        todo.extend(imports[module])
    return sorted(hits)


def ledger_table_writers(root: Path = PACKAGE) -> list[str]:
    """Modules outside the ledger package that pass `jobs` or `results` to a table write."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if _inside(module, LEDGER):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _callee(node) in TABLE_WRITES and _names_ledger_table(node):
                found.append(f"{module}:{node.lineno} {_callee(node)}")
    return found


def _callee(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _names_ledger_table(node: ast.Call) -> bool:
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        if isinstance(arg, ast.Attribute) and arg.attr in LEDGER_TABLES:
            return True
        if isinstance(arg, ast.Name) and arg.id in LEDGER_TABLES:
            return True
        if isinstance(arg, ast.Constant) and arg.value in LEDGER_TABLES:
            return True
    return False


def _third_party() -> dict[str, set[str]]:
    return {
        module_name(path): third_party_of(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_the_task_side_imports_no_pyspark_even_through_other_modules() -> None:
    imports, third = collect_imports(), _third_party()
    tasks = [m for m in imports if _inside(m, TASK)]
    assert f"{TASK}.scheduler" in tasks
    assert {m: reaching(m, imports, third, "pyspark") for m in tasks} == {m: [] for m in tasks}
    # The check sees pyspark through a chain: a task module importing the ledger's tables reaches it.
    assert reaching(f"{TASK}.scheduler", {**imports, f"{TASK}.scheduler": {f"{LEDGER}.tables"}}, third, "pyspark")


def test_planning_never_imports_the_task_side_and_tasks_take_only_the_ledgers_contract() -> None:
    imports = collect_imports()
    assert side_crossings(imports) == []
    for importer, target in [
        (f"{PLANNING}.queries", f"{TASK}.scheduler"),
        (f"{TASK}.scheduler", f"{LEDGER}.writer"),
        (f"{TASK}.runner", "ctc_spark.engine.run"),
    ]:
        crossed = {**imports, importer: set(imports[importer]) | {target}}
        assert [c for c in side_crossings(crossed) if c.startswith(f"{importer} -> {target} ")], (importer, target)


def test_only_the_ledger_package_writes_the_jobs_and_results_tables(tmp_path: Path) -> None:
    assert ledger_table_writers() == []
    fake = tmp_path / "ctc_spark"
    (fake / "engine" / "ledger").mkdir(parents=True)
    (fake / "engine" / "ledger" / "sink.py").write_text("append_rows(spark, where, tables.JOBS, frame)\n")
    (fake / "engine" / "record.py").write_text(
        "merge_rows(spark, where, ledger.RESULTS, frame, keys)\nio.append_rows(spark, where, 'jobs', frame)\n"
        "merge_rows(spark, where, RUNS, frame, keys)\n"
    )
    assert ledger_table_writers(fake) == [
        "ctc_spark.engine.record:1 merge_rows",
        "ctc_spark.engine.record:2 append_rows",
    ]
