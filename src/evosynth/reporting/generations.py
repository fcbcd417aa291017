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


#: The panels of generations.png: row key, panel title, axis title (ratios get unit and scale from ratio_axis).
PANELS = (("accuracy", "test accuracy", "test accuracy (%)"),
          ("synaptic_efficiency", "synaptic efficiency (A-E)", "synaptic efficiency"),
          ("cluster_efficiency", "cluster efficiency (C-E)", "cluster efficiency"),
          ("mac_reduction", "MAC reduction", "MAC reduction"))
#: Marker and line style per population member (member 0 solid circles, member 1 dashed squares, ...).
STYLES = ("o-", "s--", "^:", "D-.", "v-")


def _plot(experiment: str, rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy % and the three ratios over generation 0, each in its own panel (a 2×2 grid: two ratios near 1
    would hide one another in one panel); each member of a population its own line, keyed under the figure."""
    fig, axes = figures.grid(len(PANELS), columns=2)
    members = sorted({r.get("member") or 0 for r in rows})
    for ax, (key, title, label) in zip(axes, PANELS):
        values = []
        for k, member in enumerate(members):
            mine = [r for r in rows if (r.get("member") or 0) == member]
            scale = 100 if key == "accuracy" else 1
            values += [r[key] for r in mine]
            ax.plot([r["generation"] for r in mine], [scale * r[key] for r in mine], STYLES[k % len(STYLES)],
                    label=f"member {member}")
        if key == "accuracy":
            ax.set_ylabel(label)
        else:
            figures.ratio_axis(ax, "y", values, label)
        ax.set(xlabel="generation", title=f"{experiment}: {title}")
        figures.tidy(ax)
    if len(members) > 1:
        figures.figure_legend(fig, columns=len(members))
    figures.save_figure(fig, path, dpi=100)
