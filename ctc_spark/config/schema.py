"""The configuration's schema, derived from the settings dataclasses: sections, keys, types, bounds, variables.

Every file key and every `CTC_SPARK_<SECTION>_<KEY>` variable is an `Option` here, checked the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ctc_spark.config.model import (
    BatchSettings,
    EmulatorSettings,
    EngineSettings,
    ResourceSettings,
    Secret,
    ServiceSettings,
    SparkSettings,
    StorageSettings,
)
from ctc_spark.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "RESOURCE_OPTIONS",
    "SECTIONS",
    "Option",
    "closest",
    "options",
    "reference_table",
    "section_keys",
]

ENV_PREFIX = "CTC_SPARK_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Option:
    """One setting: where it lives, its type, its default, its bounds and its environment variable."""

    section: str
    key: str
    kind: type
    default: Any
    doc: str
    positive: bool = False
    nonnegative: bool = False
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    env: bool = True
    secret: bool = False

    @property
    def env_var(self) -> str | None:
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper() if self.env else None

    def check(self, value: Any, *, key: str, source: str) -> Any:
        """The value, validated (ints widen to floats).

        Raises:
            ConfigError: wrong type or out of bounds; names `key` and `source`.
        """
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (isinstance(value, bool) and self.kind is not bool):
            raise ConfigError(f"expected {self.kind.__name__}, got {value!r}", key=key, source=source)
        return self._bounded(value, key=key, source=source)

    def _bounded(self, value: Any, *, key: str, source: str) -> Any:
        if self.positive and value <= 0:
            raise ConfigError(f"must be > 0, got {value!r}", key=key, source=source)
        if self.nonnegative and value < 0:
            raise ConfigError(f"must be >= 0, got {value!r}", key=key, source=source)
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"must be <= {self.maximum:g}, got {value!r}", key=key, source=source)
        if self.choices and value not in self.choices:
            raise ConfigError(f"must be one of {', '.join(self.choices)}; got {value!r}", key=key, source=source)
        return value

    def parse(self, text: str, *, var: str) -> Any:
        """A variable's text as this option's type, validated.

        Raises:
            ConfigError: the text does not parse or is out of bounds; names the variable.
        """
        source = "the environment"
        value: Any = text
        if self.kind is bool:
            if text.strip().lower() not in _TRUE | _FALSE:
                raise ConfigError(f"expected true or false, got {text!r}", key=var, source=source)
            value = text.strip().lower() in _TRUE
        elif self.kind in (int, float):
            try:
                value = self.kind(text.strip())
            except ValueError:
                raise ConfigError(f"expected {self.kind.__name__}, got {text!r}", key=var, source=source) from None
        return self.check(value, key=var, source=source)


SECTIONS: dict[str, tuple[type, ...]] = {
    "service": (ResourceSettings, ServiceSettings),
    "storage": (StorageSettings,),
    "batch": (BatchSettings,),
    "engine": (EngineSettings,),
    "spark": (SparkSettings,),
    "emulator": (EmulatorSettings,),
}

# Keys that name where a secret comes from; they have no value of their own in the settings.
_SECRET_SOURCES = {
    "service": (
        ("key_env", "the environment variable that holds this resource's key"),
        ("key_secret", 'a Databricks secret "scope/key" that holds the key (or AZURE_LANGUAGE_KEY_SECRET)'),
    ),
    "storage": (
        (
            "connection_string_secret",
            'a Databricks secret "scope/key" that holds it (or AZURE_STORAGE_CONNECTION_STRING_SECRET)',
        ),
    ),
}
# Keys that are tables or arrays of tables, checked by the loader.
_NESTED = {"service": ("resources",), "spark": ("conf",)}


def _fields(section: str, cls: type) -> list[Option]:
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        secret = isinstance(hint, types.UnionType) and Secret in typing.get_args(hint)
        if not (secret or hint in (int, float, str, bool)):
            continue
        m = f.metadata
        found.append(
            Option(
                section,
                f.name,
                str if secret else hint,
                f.default,
                m["doc"],
                positive=m["positive"],
                nonnegative=m["nonnegative"],
                maximum=m["maximum"],
                choices=m["choices"],
                env=m["env"],
                secret=secret,
            )
        )
    return found


def _build_options() -> tuple[Option, ...]:
    result: list[Option] = []
    for section, classes in SECTIONS.items():
        for cls in classes:
            result.extend(_fields(section, cls))
        for key, doc in _SECRET_SOURCES.get(section, ()):
            result.append(Option(section, key, str, None, doc, env=False))
    return tuple(result)


_OPTIONS = _build_options()
_RESOURCE_KEYS = {f.name for f in dataclasses.fields(ResourceSettings)} | {"key_env", "key_secret"}
RESOURCE_OPTIONS = tuple(o for o in _OPTIONS if o.section == "service" and o.key in _RESOURCE_KEYS)


def options(section: str | None = None) -> tuple[Option, ...]:
    """Every option, or those of one section, in the order the README documents them."""
    return tuple(o for o in _OPTIONS if section is None or o.section == section)


def section_keys(section: str) -> tuple[str, ...]:
    """Every key allowed directly in `[section]`, including its nested tables."""
    return tuple(o.key for o in options(section)) + _NESTED.get(section, ())


def closest(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest candidate, else the list of valid ones."""
    pool = sorted(candidates)
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else f"; valid: {', '.join(pool)}"


def _default_text(option: Option) -> str:
    if option.default is None:
        return "—"
    if isinstance(option.default, bool):
        return f"`{str(option.default).lower()}`"
    if isinstance(option.default, str):
        return f'`"{option.default}"`'
    return f"`{option.default}`"


def reference_table() -> str:
    """The README's table of every key, its default, its variable and its meaning (a test keeps them equal)."""
    rows = ["| key | default | variable | meaning |", "| --- | --- | --- | --- |"]
    for o in _OPTIONS:
        var = f"`{o.env_var}`" if o.env_var else "—"
        rows.append(f"| `{o.section}.{o.key}` | {_default_text(o)} | {var} | {o.doc} |")
    return "\n".join(rows)
