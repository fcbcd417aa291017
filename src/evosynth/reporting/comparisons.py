"""Each paper's claim checked against its control, generation by generation.

A comparison names a treatment and a control experiment, the metric the claim
is about and an accuracy tolerance. The claim *holds* at the last common
generation when the treatment's metric is higher and its accuracy is no more
than the tolerance below the control's; otherwise the note says which
condition failed. Populations (sexual synthesis) count as their mean member.
Whatever the metric, the verdict also states both arms' synaptic and cluster
efficiencies (the sexual paper's claim is about both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evosynth import figures
from evosynth.artifacts import write_csv, write_text

METRICS = ("synaptic_efficiency", "cluster_efficiency", "mac_reduction", "accuracy")
OPTIONAL = ("val_accuracy",)  # averaged where every member has it


def per_generation(rows: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Mean of each metric over a generation's members."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["generation"], []).append(row)
    return {
        gen: {m: sum(float(r[m]) for r in members) / len(members)
              for m in (*METRICS, *OPTIONAL) if m in METRICS or all(m in r for r in members)}
        for gen, members in sorted(grouped.items())
    }


def verdict(spec: dict[str, Any], treatment: dict[int, dict[str, float]], control: dict[int, dict[str, float]]) -> dict[str, Any]:
    """Whether the claim held at the last generation both experiments reached."""
    gen = max(set(treatment) & set(control))
    t, c = treatment[gen], control[gen]
    metric, tolerance = spec["metric"], spec["tolerance"]
    better = t[metric] > c[metric]
    accurate = t["accuracy"] >= c["accuracy"] - tolerance
    if better and accurate:
        outcome = "holds"
    elif not better:
        outcome = f"does not hold: {metric} is not higher"
    else:
        outcome = f"does not hold: accuracy is more than {tolerance:.1%} below the control's"
    return {
        "generation": gen,
        "treatment_metric": t[metric],
        "control_metric": c[metric],
        "treatment_accuracy": t["accuracy"],
        "control_accuracy": c["accuracy"],
        **{f"{role}_{m}": arm[m] for m in METRICS[:2] for role, arm in (("treatment", t), ("control", c))},
        "outcome": outcome,
        "holds": better and accurate,
    }


def comparison_report(
    comparisons: dict[str, dict[str, Any]],
    metrics: dict[str, list[dict[str, Any]]],
    md_path: Path,
    csv_path: Path,
    png_path: Path,
    title: str,
) -> list[dict[str, Any]]:
    """Write the measured results note (Markdown), its table (CSV) and plot (PNG)."""
    series = {name: per_generation(rows) for name, rows in metrics.items()}
    results = []
    lines = [f"# {title}", ""]
    for name, spec in comparisons.items():
        t, c = series[spec["treatment"]], series[spec["control"]]
        v = verdict(spec, t, c)
        results.append({"comparison": name, "metric": spec["metric"], **v})
        lines += [
            f"## {name}: {spec['claim']}",
            "",
            f"Treatment `{spec['treatment']}` against control `{spec['control']}`; the claim is about"
            f" **{spec['metric']}** at accuracy within {spec['tolerance']:.1%}.",
            "",
            "| generation | accuracy (T) | accuracy (C) | synaptic eff. (T) | synaptic eff. (C)"
            " | cluster eff. (T) | cluster eff. (C) | MAC reduction (T) | MAC reduction (C) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for gen in sorted(set(t) & set(c)):
            cells = [f"{100 * t[gen]['accuracy']:.2f} %", f"{100 * c[gen]['accuracy']:.2f} %"]
            for m in METRICS[:3]:
                cells += [f"{t[gen][m]:.2f}×", f"{c[gen][m]:.2f}×"]
            lines.append(f"| {gen} | " + " | ".join(cells) + " |")
        lines += [
            "",
            (
                f"**Measured at generation {v['generation']}: the claim {v['outcome']}** "
                f"({spec['metric']} {v['treatment_metric']:.3g} vs {v['control_metric']:.3g};"
                f" accuracy {100 * v['treatment_accuracy']:.2f} % vs {100 * v['control_accuracy']:.2f} %;"
                f" synaptic efficiency {v['treatment_synaptic_efficiency']:.2f}× vs"
                f" {v['control_synaptic_efficiency']:.2f}×; cluster efficiency"
                f" {v['treatment_cluster_efficiency']:.2f}× vs {v['control_cluster_efficiency']:.2f}×)."
            ),
            "",
        ]
    write_text(md_path, "\n".join(lines))
    write_csv(csv_path, results)
    _plot(comparisons, series, png_path)
    return results


#: Axis titles of the metrics a comparison may name (ratios get their unit and scale from figures.ratio_axis).
LABELS = {"synaptic_efficiency": "synaptic efficiency", "cluster_efficiency": "cluster efficiency",
          "mac_reduction": "MAC reduction", "accuracy": "test accuracy (%)"}


def _plot(comparisons: dict[str, dict[str, Any]], series: dict[str, dict[int, dict[str, float]]], path: Path) -> None:
    """Per comparison, one row: accuracy (%) and the claim's metric (log axis) vs generation, treatment and
    control, their legend beside the row.

    A claim about accuracy shows synaptic efficiency beside it (the axis it is
    compared at) instead of drawing accuracy twice.
    """
    fig, axes = figures.grid(2 * max(len(comparisons), 1), columns=2, beside=2.4)
    for (name, spec), left, right in zip(comparisons.items(), axes[::2], axes[1::2]):
        metric = spec["metric"] if spec["metric"] != "accuracy" else "synaptic_efficiency"
        values = []
        for role, style in (("treatment", "o-"), ("control", "s--")):
            data = series[spec[role]]
            gens = sorted(data)
            label = f"{spec[role]} ({role})"
            left.plot(gens, [100 * data[g]["accuracy"] for g in gens], style, label=label)
            right.plot(gens, [data[g][metric] for g in gens], style, label=label)
            values += [data[g][metric] for g in gens]
        figures.ratio_axis(right, "y", values, LABELS[metric])
        left.set(xlabel="generation", ylabel=LABELS["accuracy"])
        left.set_title(name, loc="left", fontweight="bold")
        right.set_xlabel("generation")
        for ax in (left, right):
            figures.tidy(ax)
        figures.legend_beside(right)
    figures.save_figure(fig, path, dpi=90)
