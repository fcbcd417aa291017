"""Per-experiment generation table (cluster paper Tables 1–6 layout) and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evosynth import figures
from evosynth.artifacts import write_csv, write_text

COLUMNS = [
    ("generation", "generation", "{}"),
    ("member", "member", "{}"),
    ("accuracy", "accuracy %", "{:.2%}"),
    ("synapses", "synapses", "{:,}"),
    ("weights_percent", "\\|W≠0\\|/\\|W\\| %", "{:.2f}"),
    ("synaptic_efficiency", "synaptic eff. (A-E)", "{:.2f}×"),
    ("cluster_efficiency", "cluster eff. (C-E)", "{:.2f}×"),
    ("architecture", "architecture", "{}"),
    ("macs", "MACs", "{:,}"),
    ("mac_reduction", "MAC reduction", "{:.2f}×"),
    ("synapse_ratio_vs_parent", "ratio vs parent", "{:.3f}"),
    ("factor", "F asked", "{}"),
]


def columns_for(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """:data:`COLUMNS`, without ``member`` unless the experiment has a population."""
    has_members = any(row.get("member") is not None for row in rows)
    return [c for c in COLUMNS if c[0] != "member" or has_members]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generation (and member), sorted, with the columns of :data:`COLUMNS`."""
    ordered = sorted(rows, key=lambda r: (r["generation"], r.get("member") or 0))
    return [{key: row.get(key) for key, _, _ in columns_for(rows)} for row in ordered]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = columns_for(rows)
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "|".join("---:" if key != "architecture" else ":---" for key, _, _ in columns) + "|"
    body = [
        "| " + " | ".join("–" if row[key] is None else fmt.format(row[key]) for key, _, fmt in columns) + " |"
        for row in rows
    ]
    return "\n".join([header, rule, *body]) + "\n"


def generation_report(
    experiment: str,
    title: str,
    metrics: list[dict[str, Any]],
    csv_path: Path,
    md_path: Path,
    png_path: Path,
) -> list[dict[str, Any]]:
    """Write the generation table as CSV and Markdown and plot it as PNG."""
    rows = table_rows(metrics)
    write_csv(csv_path, rows)
    write_text(md_path, f"# {experiment}: {title}\n\n" + markdown_table(rows))
    _plot(experiment, rows, png_path)
    return rows


def _plot(experiment: str, rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy % and the three efficiencies vs generation; each member of a population its own line."""
    plt = figures.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    members = sorted({r.get("member") or 0 for r in rows})
    ratios = []
    for member in members:
        mine = [r for r in rows if (r.get("member") or 0) == member]
        gens = [r["generation"] for r in mine]
        tag = f" (member {member})" if len(members) > 1 else ""
        left.plot(gens, [100 * r["accuracy"] for r in mine], "o-", label=f"accuracy{tag}")
        for key, marker, label in (("synaptic_efficiency", "o-", "synaptic efficiency (A-E)"),
                                   ("cluster_efficiency", "s-", "cluster efficiency (C-E)"),
                                   ("mac_reduction", "^-", "MAC reduction")):
            right.plot(gens, [r[key] for r in mine], marker, label=f"{label}{tag}")
            ratios += [r[key] for r in mine]
    log = figures.readable_log(right, "y", ratios)
    left.set(xlabel="generation", ylabel="test accuracy (%)", title=f"{experiment}: accuracy")
    right.set(xlabel="generation", ylabel="× generation 0's count" + (" (log scale)" if log else ""),
              title=f"{experiment}: efficiency")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        figures.integer_ticks(ax)
        if len(ax.lines) > 1:
            ax.legend(fontsize="small")
    figures.save_figure(fig, path, dpi=100)
