"""The evaluation report: a terminal table, and a folder with a confusion-matrix PNG, an F1 chart and a Markdown page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctc_spark.service.vocabulary import evaluation_body

__all__ = ["evaluation_table", "write_report"]


def evaluation_table(summary: dict[str, Any]) -> str:
    """A fixed-width table of per-class precision, recall, F1 and counts, then micro and macro averages."""
    body = evaluation_body(summary)
    classes = body.get("classes") or {}
    width = max([len("class"), *(len(c) for c in classes)]) + 2
    lines = [f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'TP':>7}{'FP':>7}{'FN':>7}{'TN':>7}"]
    for name, m in sorted(classes.items()):
        lines.append(
            f"{name:<{width}}{m.get('precision', 0):>10.3f}{m.get('recall', 0):>10.3f}{m.get('f1', 0):>10.3f}"
            f"{m.get('truePositiveCount', 0):>7}{m.get('falsePositiveCount', 0):>7}"
            f"{m.get('falseNegativeCount', 0):>7}{m.get('trueNegativeCount', 0):>7}"
        )
    for scope in ("micro", "macro"):
        lines.append(
            f"{scope + ' avg':<{width}}{body.get(f'{scope}Precision', 0):>10.3f}"
            f"{body.get(f'{scope}Recall', 0):>10.3f}{body.get(f'{scope}F1', 0):>10.3f}"
        )
    return "\n".join(lines)


def write_report(summary: dict[str, Any], folder: str | Path, *, project: str, model: str) -> Path:
    """Write `confusion_matrix.png` (single-label), `f1_by_class.png` and `report.md`; returns the page's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    body = evaluation_body(summary)
    classes = sorted((body.get("classes") or {}).keys())
    images = []
    f1 = [body["classes"][c].get("f1", 0.0) for c in classes]
    fig, ax = plt.subplots(figsize=(max(4, len(classes) * 0.8), 3.5))
    ax.bar(classes, f1, color="#2a6f97")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title(f"{project} / {model}: F1 by class")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(out / "f1_by_class.png", dpi=100)
    plt.close(fig)
    images.append(("F1 by class", "f1_by_class.png"))
    matrix = body.get("confusionMatrix")
    if matrix:
        values = [[matrix.get(e, {}).get(p, {}).get("rawValue", 0.0) for p in classes] for e in classes]
        fig, ax = plt.subplots(figsize=(max(4, len(classes) * 0.9), max(3.5, len(classes) * 0.8)))
        ax.imshow(values, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("expected")
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8)
        ax.set_title("confusion matrix (test set)")
        fig.tight_layout()
        fig.savefig(out / "confusion_matrix.png", dpi=100)
        plt.close(fig)
        images.append(("Confusion matrix", "confusion_matrix.png"))
    page = out / "report.md"
    parts = [f"# Evaluation: {project} / {model}", "", "```", evaluation_table(summary), "```", ""]
    options = summary.get("evaluationOptions") or {}
    if options:
        parts += [f"Split: {options}", ""]
    for title, name in images:
        parts += [f"## {title}", "", f"![{title}]({name})", ""]
    page.write_text("\n".join(parts), encoding="utf-8")
    return page
