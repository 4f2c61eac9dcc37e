"""Spark Connect helpers without a session: the remote URL's precedence, guarded conf reads, table-name inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.io.connect import conf_get, is_connect, remote_url
from ctc_spark.io.inputs import is_table_name


def test_remote_url_prefers_the_environment_then_spark_remote_then_the_settings() -> None:
    conf = (("spark.remote", "sc://conf:15002"),)
    assert remote_url("sc://file:15002", conf, env={"SPARK_REMOTE": "local[2]"}) == "local[2]"
    assert remote_url("sc://file:15002", conf, env={}) == "sc://conf:15002"
    assert remote_url("sc://file:15002", (), env={}) == "sc://file:15002"
    assert remote_url("", (("spark.ui.enabled", "false"),), env={}) == ""


class _Conf:
    def get(self, key: str, default: str | None = None) -> str | None:
        if key == "spark.sql.shuffle.partitions":
            return "4"
        raise RuntimeError("[CONFIG_NOT_AVAILABLE] Configuration spark.x is not available")


class _Session:
    conf = _Conf()


def test_conf_get_returns_the_default_where_serverless_refuses_the_key() -> None:
    assert conf_get(_Session(), "spark.sql.shuffle.partitions", "8") == "4"
    assert conf_get(_Session(), "spark.speculation", "false") == "false"


def test_is_connect_tells_sessions_by_type() -> None:
    class Remote:
        pass

    Remote.__module__ = "pyspark.sql.connect.session"
    assert is_connect(Remote()) and not is_connect(_Session())


@pytest.mark.parametrize(
    ("value", "table"),
    [
        ("main.corpus.docs", True),
        ("corpus.docs", True),
        ("`my-cat`.corpus.docs", True),
        ("docs", False),
        ("corpus.json", False),
        ("data/corpus.parquet", False),
        ("/Volumes/main/corpus/raw/docs", False),
        ("s3://bucket/corpus", False),
        ("a.b.c.d", False),
    ],
)
def test_table_names_and_paths(value: str, table: bool) -> None:
    assert is_table_name(value) is table


def test_an_existing_path_that_looks_like_a_table_stays_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.docs").mkdir()
    assert not is_table_name("corpus.docs")


def test_settings_read_the_engine_and_the_spark_remote(tmp_path: Path) -> None:
    from ctc_spark.config import load_settings
    from ctc_spark.errors import ConfigError

    path = tmp_path / "s.toml"
    path.write_text(
        '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\n[spark]\nremote = "sc://h:15002"\n'
        '[engine]\nengine = "driver"\n'
    )
    settings = load_settings(path, env={})
    assert (settings.spark.remote, settings.engine.engine) == ("sc://h:15002", "driver")
    path.write_text('[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\n')
    assert load_settings(path, env={}).engine.engine == "auto"
    path.write_text('[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\n[engine]\nengine = "gpu"\n')
    with pytest.raises(ConfigError, match=r"engine\.engine"):
        load_settings(path, env={})
