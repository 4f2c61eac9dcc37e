"""The training CLI in-process (the shared SparkSession is the active one): train, evaluate, deploy, swap, projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.cli import main
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration


@pytest.fixture
def config(make_emulator, azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    server = make_emulator(training_seconds=0.3)
    path = tmp_path / "settings.toml"
    path.write_text(f'[service]\nendpoint = "{server.endpoint}"\n[storage]\ncontainer = "cli-train"\n')
    monkeypatch.setenv("AZURE_LANGUAGE_KEY", server.key)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    return path


def test_train_evaluate_deploy_swap_and_projects(spark, config: Path, tmp_path: Path, capsys) -> None:
    labelled = tmp_path / "labelled"
    docs = generate_corpus(120, kind="multi", n_classes=3, seed=51, noise=0.2)
    frame = corpus_dataframe(spark, docs, kind="multi")
    frame.write.json(str(labelled))
    tables = str(tmp_path / "tables")
    cfg = ["--config", str(config)]
    assert (
        main(
            [
                *cfg,
                "train",
                "--project",
                "cli",
                "--kind",
                "multi",
                "--labels",
                str(labelled),
                "--label-col",
                "labels",
                "--model",
                "m1",
                "--tables",
                tables,
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "model m1 trained" in out and "micro avg" in out and "blobs: 120 uploaded" in out
    assert (tmp_path / "r" / "f1_by_class.png").exists()
    assert read_table(spark, TableLocation.parse(tables), "models").first().kind == "multi"
    report = tmp_path / "eval"
    assert main([*cfg, "evaluate", "--project", "cli", "--model", "m1", "--report", str(report)]) == 0
    page = (report / "report.md").read_text()
    assert "## F1 by class" in page and "confusion_matrix.png" not in page  # multi-label has no matrix
    assert main([*cfg, "deploy", "--project", "cli", "--model", "m1", "--deployment", "prod", "--tables", tables]) == 0
    assert main([*cfg, "deploy", "--project", "cli", "--model", "m1", "--deployment", "next"]) == 0
    assert main([*cfg, "deploy", "--project", "cli", "--swap", "prod", "next", "--tables", tables]) == 0
    deployments = {
        r.deployment_name: r for r in read_table(spark, TableLocation.parse(tables), "deployments").collect()
    }
    assert set(deployments) == {"prod", "next"} and deployments["prod"].model_label == "m1"
    capsys.readouterr()
    assert main([*cfg, "projects", "list"]) == 0
    assert "cli\tCustomMultiLabelClassification" in capsys.readouterr().out
    assert main([*cfg, "projects", "delete", "--project", "cli"]) == 0
    assert main([*cfg, "projects", "list"]) == 0
    assert "cli\t" not in capsys.readouterr().out.split("deleted project cli")[-1]


def test_cli_errors_are_one_clear_line(spark, config: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nothing-here"
    with pytest.raises(SystemExit) as failed:
        main(
            [
                "--config",
                str(config),
                "train",
                "--project",
                "x",
                "--kind",
                "single",
                "--labels",
                str(missing),
                "--model",
                "m",
                "--tables",
                str(tmp_path / "t"),
            ]
        )
    assert failed.value.code == 1
    assert f"input path does not exist: {missing}" in capsys.readouterr().err
