"""Per-experiment generation table (cluster paper Tables 1–6 layout) and its plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from evosynth.artifacts import atomic_path, write_text

COLUMNS = [
    ("generation", "generation", "{}"),
    ("accuracy", "accuracy %", "{:.2%}"),
    ("synapses", "synapses", "{:,}"),
    ("weights_percent", "|W≠0|/|W| %", "{:.2f}"),
    ("synaptic_efficiency", "synaptic eff. (A-E)", "{:.2f}×"),
    ("cluster_efficiency", "cluster eff. (C-E)", "{:.2f}×"),
    ("architecture", "architecture", "{}"),
    ("macs", "MACs", "{:,}"),
    ("mac_reduction", "MAC reduction", "{:.2f}×"),
    ("synapse_ratio_vs_parent", "ratio vs parent", "{:.3f}"),
    ("factor", "F asked", "{}"),
]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generation, sorted, with the columns of :data:`COLUMNS`."""
    return [{key: row.get(key) for key, _, _ in COLUMNS} for row in sorted(rows, key=lambda r: r["generation"])]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---:" if key != "architecture" else ":---" for key, _, _ in COLUMNS) + "|"
    body = [
        "| " + " | ".join("–" if row[key] is None else fmt.format(row[key]) for key, _, fmt in COLUMNS) + " |"
        for row in rows
    ]
    return "\n".join([header, rule, *body]) + "\n"


def generation_report(
    experiment: str,
    spec: dict[str, Any],
    metrics: list[dict[str, Any]],
    csv_path: Path,
    md_path: Path,
    png_path: Path,
) -> list[dict[str, Any]]:
    """Write the generation table as CSV and Markdown and plot it as PNG."""
    rows = table_rows(metrics)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[key for key, _, _ in COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(csv_path, buffer.getvalue())
    env = spec["environment"]
    title = (
        f"# {experiment}: {spec['method']} on {spec['dataset']} ({spec['architecture']}),"
        f" F = {env['factor']} ({env['mode']} mode), init {spec['init']}\n\n"
    )
    write_text(md_path, title + markdown_table(rows))
    _plot(experiment, rows, png_path)
    return rows


def _plot(experiment: str, rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gens = [r["generation"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(gens, [100 * r["accuracy"] for r in rows], "o-")
    left.set(xlabel="generation", ylabel="test accuracy %", title=f"{experiment}: accuracy")
    right.semilogy(gens, [r["synaptic_efficiency"] for r in rows], "o-", label="synaptic (A-E)")
    right.semilogy(gens, [r["cluster_efficiency"] for r in rows], "s-", label="cluster (C-E)")
    right.semilogy(gens, [r["mac_reduction"] for r in rows], "^-", label="MAC reduction")
    right.set(xlabel="generation", ylabel="× vs generation 0", title="efficiency")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(gens)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
