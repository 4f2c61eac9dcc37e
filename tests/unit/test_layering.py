"""The layers point one way: cli → engine | training | local → io | service → config → errors.

Every module's imports are read from its source (all of them, including lazy imports inside functions and
`TYPE_CHECKING` blocks); engine and training never import each other, and the emulator imports nothing of the
package above errors/config (it has its own config).
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
