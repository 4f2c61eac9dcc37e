"""Strict configuration: unknown keys and sections refused with the closest valid key; one source of defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ctc_spark.config import EngineSettings, load_settings
from ctc_spark.config.schema import SECTIONS, options, reference_table
from ctc_spark.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
HEAD = '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\n'


def _load(tmp_path: Path, body: str) -> ConfigError:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("body", "key", "hint"),
    [
        (
            '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\ncals_per_minute = 5\n',
            "service.cals_per_minute",
            "did you mean calls_per_minute?",
        ),
        (
            HEAD + "[batch]\nmax_doc_per_request = 5\n",
            "batch.max_doc_per_request",
            "did you mean max_docs_per_request?",
        ),
        (
            HEAD + "[engine]\nmax_uncomitted_jobs = 5\n",
            "engine.max_uncomitted_jobs",
            "did you mean max_uncommitted_jobs?",
        ),
        (HEAD + "[batch]\ntasks = 4\n", "batch.tasks", "valid: "),
        (HEAD + "[sevice]\nx = 1\n", "sevice", "did you mean service?"),
        (
            "[[service.resources]]\nendpoint = 'http://127.0.0.1:1'\nkey = 'k'\ncals_per_minute = 1\n",
            "service.resources[0].cals_per_minute",
            "did you mean calls_per_minute?",
        ),
    ],
)
def test_unknown_keys_and_sections_name_the_closest_valid_key(tmp_path: Path, body: str, key: str, hint: str) -> None:
    error = _load(tmp_path, body)
    assert error.key == key
    assert hint in str(error)


def test_the_old_wave_key_still_loads_with_a_warning_naming_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "old.toml"
    path.write_text(HEAD + "[batch]\nwave_jobs = 16\n", encoding="utf-8")
    with pytest.warns(FutureWarning, match=r"\[batch\] wave_jobs is deprecated; use \[engine\] max_uncommitted_jobs"):
        settings = load_settings(path, env={})
    assert settings.engine.max_uncommitted_jobs == 16
    error = _load(tmp_path, HEAD + "[batch]\nwave_jobs = 16\n[engine]\nmax_uncommitted_jobs = 8\n")
    assert error.key == "batch.wave_jobs"


def test_engine_is_a_choice(tmp_path: Path) -> None:
    assert EngineSettings().engine == "auto"
    error = _load(tmp_path, HEAD + '[engine]\nengine = "gpu"\n')
    assert error.key == "engine.engine" and "auto, driver, executors" in str(error)


def test_defaults_live_on_the_dataclasses_only(tmp_path: Path) -> None:
    # A file with only the required keys loads to exactly the dataclass defaults.
    path = tmp_path / "min.toml"
    path.write_text(HEAD, encoding="utf-8")
    settings = load_settings(path, env={})
    for section, classes in SECTIONS.items():
        for cls in classes:
            for f in dataclasses.fields(cls):
                if f.default is dataclasses.MISSING or f.name in {"endpoint", "key", "connection_string"}:
                    continue
                holder = settings.service.primary if cls.__name__ == "ResourceSettings" else getattr(settings, section)
                assert getattr(holder, f.name) == f.default, (section, f.name)
    loader_text = (REPO / "ctc_spark" / "config" / "loader.py").read_text()
    assert not re.search(r"\b(125_?000|2000|3600|300\.0|calls_per_minute\s*=\s*1000)\b", loader_text)


def test_readme_table_is_the_schema() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert reference_table() in readme, "README's configuration table is stale: paste reference_table()"


def test_committed_conf_files_use_only_known_keys_and_document_every_section() -> None:
    for name in ("local.toml", "azure.toml"):
        text = (REPO / "conf" / name).read_text(encoding="utf-8")
        sections = set(re.findall(r"^\[(\w+)\]", text, flags=re.M))
        assert sections <= set(SECTIONS), name
        assert {"service", "batch", "engine"} <= sections, name
    local = (REPO / "conf" / "local.toml").read_text(encoding="utf-8")
    for option in options("engine") + options("batch"):
        assert re.search(rf"^{option.key} = ", local, flags=re.M), f"conf/local.toml lacks {option.key}"


def test_conf_local_repeats_the_defaults_without_drifting_from_them() -> None:
    import tomllib

    raw = tomllib.loads((REPO / "conf" / "local.toml").read_text(encoding="utf-8"))
    # Not a default repeated: what the embedded emulator does, which no real resource is assumed to.
    emulator_facts = {("service", "burst_calls")}
    drift = [
        f"{o.section}.{o.key} = {raw[o.section][o.key]!r}, the dataclass says {o.default!r}"
        for o in options()
        if o.key in raw.get(o.section, {})
        and o.default not in (None, "")
        and raw[o.section][o.key] != o.default
        and (o.section, o.key) not in emulator_facts
    ]
    assert drift == []
