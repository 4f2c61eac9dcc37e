"""The declared public API: what `ctc_spark` exports, and that every module declares `__all__`."""

from __future__ import annotations

import importlib
import pkgutil

import ctc_spark


def test_exported_members() -> None:
    assert sorted(ctc_spark.__all__) == sorted(
        [
            "AuthenticationError",
            "CTCError",
            "ConfigError",
            "InputError",
            "NotFoundError",
            "ReconciliationError",
            "RunSummary",
            "Secret",
            "ServiceError",
            "Settings",
            "ThrottledError",
            "__version__",
            "classify",
            "get_spark",
            "load_settings",
            "run_classification",
        ]
    )
    for name in ctc_spark.__all__:
        assert getattr(ctc_spark, name) is not None, name


def test_every_module_declares_all_and_exports_what_it_has() -> None:
    missing = []
    for info in pkgutil.walk_packages(ctc_spark.__path__, "ctc_spark."):
        if info.name.endswith("__main__") or info.name == "ctc_spark.local.demo":
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            missing.append(info.name)
            continue
        for name in names:
            assert hasattr(module, name), f"{info.name}.__all__ names {name!r}, which does not exist"
    assert missing == [], f"modules without __all__: {missing}"
