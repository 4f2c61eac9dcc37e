"""The declared public API: every name in `ctc_spark.__all__` keeps its kind whatever was imported first.

Like httpx's `test_exported_members`: the expected list is derived from the module itself, every submodule is
imported first (a submodule named like a public function would replace it on the package), then each public
name's kind is checked — CapWords are classes, snake_case names are functions, nothing is a module.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

import ctc_spark

# Importing these runs them (`python -m`) or starts local processes.
_SKIP = ("__main__", "ctc_spark.local.demo")


def _import_all(package: str) -> None:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if not info.name.endswith(_SKIP):
            importlib.import_module(info.name)


def public_api_problems(package: str) -> list[str]:
    """What is wrong with `package.__all__` once every submodule is imported (empty when nothing is)."""
    _import_all(package)
    module = sys.modules[package]
    problems = []
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.ismodule(value):
            problems.append(f"{package}.{name} is the module {value.__name__}, not the public {name}")
        elif name.startswith("__"):
            if not isinstance(value, str):
                problems.append(f"{package}.{name} is not a string")
        elif name[0].isupper() and not inspect.isclass(value):
            problems.append(f"{package}.{name} is a {type(value).__name__}, expected a class")
        elif name[0].islower() and not inspect.isfunction(value):
            problems.append(f"{package}.{name} is a {type(value).__name__}, expected a function")
    return problems


def test_all_is_derived_from_the_module() -> None:
    eager = {n for n in vars(ctc_spark) if not n.startswith("_") and not inspect.ismodule(vars(ctc_spark)[n])}
    eager -= {"annotations", "Any"}
    expected = sorted(eager | set(ctc_spark._LAZY) | {"__version__"}, key=str.casefold)
    assert sorted(ctc_spark.__all__, key=str.casefold) == expected


def test_every_public_name_keeps_its_kind_after_every_submodule_is_imported() -> None:
    assert public_api_problems("ctc_spark") == []
    assert inspect.isfunction(ctc_spark.classify) and ctc_spark.classify.__module__ == "ctc_spark.engine.run"
    assert inspect.isfunction(ctc_spark.maintain) and ctc_spark.maintain.__module__ == "ctc_spark.engine.maintenance"


def test_the_checker_catches_a_submodule_that_shadows_a_public_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "shadowed_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from shadowed_pkg._impl import Runner, classify\n__all__ = ['Runner', 'classify']\n", encoding="utf-8"
    )
    (pkg / "_impl.py").write_text("class Runner: ...\ndef classify(): ...\n", encoding="utf-8")
    (pkg / "classify.py").write_text('"""A module named like the public function."""\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert public_api_problems("shadowed_pkg") == [
            "shadowed_pkg.classify is the module shadowed_pkg.classify, not the public classify"
        ]
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "shadowed_pkg"]:
            del sys.modules[name]


def test_every_module_declares_all_and_exports_what_it_has() -> None:
    missing = []
    for info in pkgutil.walk_packages(ctc_spark.__path__, "ctc_spark."):
        if info.name.endswith(_SKIP):
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            missing.append(info.name)
            continue
        for name in names:
            assert hasattr(module, name), f"{info.name}.__all__ names {name!r}, which does not exist"
    assert missing == [], f"modules without __all__: {missing}"


def test_public_callables_document_args_returns_and_raises() -> None:
    for name in ("classify", "run_classification", "load_settings"):
        doc = inspect.getdoc(getattr(ctc_spark, name)) or ""
        for section in ("Args:", "Returns:", "Raises:"):
            assert section in doc, f"ctc_spark.{name} lacks {section}"
    assert "Args:" in (inspect.getdoc(ctc_spark.get_spark) or "")
