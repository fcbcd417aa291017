"""The evidence set's report: each paper's claim over seeds, judged where the networks still work.

Each claim pairs a treatment and a control chain by seed. The per-seed effect
is computed on the two trajectories (:mod:`evosynth.reporting.trajectories`:
matched on synaptic efficiency, interpolated on its log10, or on the
generation), limited to the usable range (both arms within the claim's drop D
of their own ancestor, on validation accuracy) and taken in the claim's form:
a difference, an equivalence (two one-sided tests with a margin) or, for
compute claims, the reduction reached at matched accuracy
(:mod:`evosynth.reporting.claims`). Why matched efficiency rather than
"efficiency reached at a fixed accuracy drop" for the difference form: a run
that never loses that much accuracy has no crossing (the value is censored)
and a run that drops early and recovers has several; matched efficiency is
defined for every seed, uses every usable generation, and is what the papers
plot (accuracy against efficiency: cluster paper Fig. 3, sexual paper Fig. 5,
StressedNets Fig. 6).

The verdict comes from the t interval over the seeds with a usable range:
*supported*, *contradicted*, *inconclusive*, *negligible* (inside the claim's
minimum effect) or *not testable here* (fewer than two seeds with a usable
range).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from evosynth import figures
from evosynth.artifacts import write_csv, write_text
from evosynth.reporting.claims import NOT_TESTABLE, judge_claim, usable_range_text
from evosynth.reporting.comparisons import LABELS, per_generation
from evosynth.reporting.trajectories import LOG_METRICS, curve, t_interval


def judge(claim: dict[str, Any], treatment: dict[int, list[dict[str, Any]]], control: dict[int, list[dict[str, Any]]],
          confidence: float, target: float) -> list[dict[str, Any]]:
    """A claim's verdict rows (:func:`evosynth.reporting.claims.judge_claim`), with how far each arm went.

    ``treatment`` and ``control`` map each seed to that chain's metrics rows; seeds are paired by number.
    """
    seeds = sorted(set(treatment) & set(control))
    t = {s: per_generation(treatment[s]) for s in seeds}
    c = {s: per_generation(control[s]) for s in seeds}
    last = {role: [arm[s][max(arm[s])] for s in seeds] for role, arm in (("treatment", t), ("control", c))}
    efficiency = {role: [r["synaptic_efficiency"] for r in rows] for role, rows in last.items()}
    reach = {
        "treatment_min_final_efficiency": min(efficiency["treatment"], default=math.nan),
        "control_min_final_efficiency": min(efficiency["control"], default=math.nan),
        "treatment_final_accuracy": float(np.mean([100 * r["accuracy"] for r in last["treatment"]])),
        "control_final_accuracy": float(np.mean([100 * r["accuracy"] for r in last["control"]])),
        "passes_target": bool(seeds) and min(efficiency["treatment"] + efficiency["control"]) >= target,
    }
    return [{**row, **reach} for row in judge_claim(claim, t, c, confidence)]


def _interval_text(row: dict[str, Any]) -> str:
    if row["verdict"] == NOT_TESTABLE:
        return "–"
    return f"{row['mean']:+.3f} {row['unit']} [{row['low']:+.3f}, {row['high']:+.3f}]"


def _accuracy_text(row: dict[str, Any]) -> str:
    inside = ("" if math.isnan(row["treatment_accuracy_in_range"]) else
              f"{row['treatment_accuracy_in_range']:.1f} % / {row['control_accuracy_in_range']:.1f} % at the range's"
              " end; ")
    return f"{inside}{row['treatment_final_accuracy']:.1f} % / {row['control_final_accuracy']:.1f} % at the last generation"


def evidence_report(evidence: dict[str, Any], runs: dict[str, dict[int, list[dict[str, Any]]]],
                    factors: dict[str, float], paths: list[Path]) -> list[dict[str, Any]]:
    """Write evidence.md, evidence.csv, evidence.png (claims) and sweep.png; return the claims' rows.

    ``runs`` maps each experiment with seeds to {seed: metrics rows of that chain};
    ``factors`` each sweep experiment to its environmental factor F.
    """
    md, csv, png, sweep_png = paths
    confidence, target = evidence["confidence"], evidence["target_efficiency"]
    rows, lines = [], ["# The evidence set: each claim over seeds", "",
                       f"Each claim is judged where both arms still work (module `evosynth.reporting.claims`):"
                       f" only generations within the claim's usable drop of their own ancestor, read on"
                       f" validation accuracy; accuracy is test accuracy, as the change from each arm's own"
                       f" ancestor. Effect: treatment − control, paired by seed; {confidence:.0%} t interval over"
                       f" the seeds with a usable range. Every arm should pass {target:g}× synaptic efficiency"
                       f" by its last generation.", "",
                       "| claim | form: metric, matched on | usable range | seeds usable | effect [interval] |"
                       " verdict | per seed | test accuracy, T / C | final synaptic eff. (min, T / C) | paper |",
                       "|:---|:---|:---|---:|:---|:---|:---|:---|:---|:---|"]
    for name, claim in evidence["claims"].items():
        drop = claim.get("usable_drop")
        for judged_row in judge(claim, runs[claim["treatment"]], runs[claim["control"]], confidence, target):
            row = {"claim": name, **judged_row, "usable_range": usable_range_text(judged_row, drop)}
            rows.append(row)
            reached = "" if row["passes_target"] else f" (below {target:g}×)"
            lines.append(
                f"| {name}: {claim['claim']} | {row['form']}: {row['metric']} at matched {row['at']} |"
                f" {row['usable_range']} | {row['seeds_usable']} of {row['seeds']} | {_interval_text(row)} |"
                f" **{row['verdict']}** | {row['effects'] or '–'} | {_accuracy_text(row)} |"
                f" {row['treatment_min_final_efficiency']:.0f}× / {row['control_min_final_efficiency']:.0f}×"
                f"{reached} | {claim['paper'] or '–'} |")
    lines += ["", "One line per claim (for the README):", ""]
    lines += [f"- `{r['claim']}` ({r['metric']} at matched {r['at']}): **{r['verdict']}**"
              + ("" if r["verdict"] == NOT_TESTABLE else
                 f", effect {r['mean']:+.3f} {r['unit']}, {confidence:.0%} interval [{r['low']:+.3f},"
                 f" {r['high']:+.3f}] over {r['seeds_usable']} seeds")
              + f"; usable range: {r['usable_range']}; test accuracy (T / C): {_accuracy_text(r)}" for r in rows]
    sweep = _sweep_rows(evidence["sweep"], runs, factors, confidence)
    if sweep:
        lines += ["", "## Environmental-factor sweep (last generation, mean and interval over seeds)", "",
                  "| experiment | F | seeds | generations | accuracy % | interval | synaptic eff. |",
                  "|:---|---:|---:|---:|---:|:---|---:|"]
        lines += [f"| {s['experiment']} | {s['factor']:g} | {s['n']} | {s['generation']} | {s['mean']:.2f} |"
                  f" [{s['low']:.2f}, {s['high']:.2f}] | {s['efficiency']:.1f}× |" for s in sweep]
    write_text(md, "\n".join(lines) + "\n")
    write_csv(csv, rows)
    _plot_claims(evidence["claims"], runs, png)
    _plot_sweep(evidence["sweep"], runs, factors, sweep_png)
    return rows


def _sweep_rows(names: list[str], runs: dict[str, dict[int, list[dict[str, Any]]]], factors: dict[str, float],
                confidence: float) -> list[dict[str, Any]]:
    out = []
    for name in names:
        finals = [per_generation(rows) for rows in runs[name].values()]
        last = [f[max(f)] for f in finals]
        interval = t_interval([100 * r["accuracy"] for r in last], confidence)
        out.append({"experiment": name, "factor": factors[name], "generation": max(max(f) for f in finals),
                    "efficiency": float(np.mean([r["synaptic_efficiency"] for r in last])), **interval})
    return out


def band(chains: list[dict[int, dict[str, float]]], metric: str, grid: np.ndarray,
         at: str = "synaptic_efficiency") -> tuple[np.ndarray, ...]:
    """Mean, min and max over chains (seeds) of a metric on a grid of the matching axis (log10 ``at``, or the
    generation) (NaN outside a chain).

    Each chain is a trajectory {generation: values}; the grid points no chain covers are dropped.
    """
    curves = []
    for series in chains:
        x, y = curve(series, metric, at)
        curves.append(np.where((grid >= x[0]) & (grid <= x[-1]), np.interp(grid, x, y), np.nan))
    stack = np.array(curves)
    covered = ~np.all(np.isnan(stack), axis=0)
    stack = stack[:, covered]
    return grid[covered], np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)


def _plot_claims(claims: dict[str, Any], runs: dict[str, dict[int, list[dict[str, Any]]]], path: Path) -> None:
    """Per claim, one row: accuracy and the claim's metric (log axis) against its matching axis (synaptic
    efficiency, log, or the generation for a claim matched on it), mean over seeds and min–max band."""
    fig, axes = figures.grid(2 * max(len(claims), 1), columns=2, beside=3.0)
    for (name, claim), left, right in zip(claims.items(), axes[::2], axes[1::2]):
        at = claim["at"]  # a row key: synaptic_efficiency or generation
        on_generation = at == "generation"
        top = max(max(float(r[at]) for rows in runs[claim[role]].values() for r in rows)
                  for role in ("treatment", "control"))
        grid = (np.arange(0, int(top) + 1, dtype=float) if on_generation
                else np.linspace(0.0, math.log10(max(top, 1.0 + 1e-9)), 128))
        metric = claim["metric"] if claim["metric"] != "accuracy" else "cluster_efficiency"
        for ax, shown in ((left, "accuracy"), (right, metric)):
            drawn = []
            for role, style in (("treatment", "-"), ("control", "--")):
                x, mean, low, high = band([per_generation(r) for r in runs[claim[role]].values()], shown, grid, at)
                x = x if on_generation else 10 ** x
                if shown in LOG_METRICS:  # the band is of log10 values: drawn back as ratios on a log axis
                    mean, low, high = 10 ** mean, 10 ** low, 10 ** high
                seeds = len(runs[claim[role]])
                line, = ax.plot(x, mean, style, label=f"{claim[role]} ({role}): mean of {seeds} seeds")
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2,
                                label=f"{claim[role]}: min–max over seeds")
                drawn += [*low, *high]
            if on_generation:
                ax.set_xlabel("generation")
            else:
                figures.ratio_axis(ax, "x", list(10 ** grid), "synaptic efficiency")
            if shown == "accuracy":
                ax.set_ylabel("test accuracy (%)")
            else:
                figures.ratio_axis(ax, "y", drawn, LABELS[shown])
            figures.tidy(ax, generations=on_generation)
        left.set_title(name, loc="left", fontweight="bold")
        figures.legend_beside(right)
    figures.save_figure(fig, path, dpi=90)  # refuses an unreadable figure, records the panels in the PNG


def _plot_sweep(names: list[str], runs: dict[str, dict[int, list[dict[str, Any]]]], factors: dict[str, float],
                path: Path) -> None:
    """StressedNets Fig. 6 over seeds: accuracy against generation per F, mean line and min–max band."""
    fig, (ax,) = figures.grid(1, panel=(6.0, 4.0), beside=2.2)
    for name in names:
        series = [per_generation(rows) for rows in runs[name].values()]
        gens = sorted(set.intersection(*(set(s) for s in series)))
        acc = np.array([[100 * s[g]["accuracy"] for g in gens] for s in series])
        line, = ax.plot(gens, acc.mean(0), "o-", label=f"F = {factors[name]:g}: mean of {len(series)} seeds")
        ax.fill_between(gens, acc.min(0), acc.max(0), color=line.get_color(), alpha=0.2)
    ax.set(title="environmental-factor sweep", xlabel="generation", ylabel="test accuracy (%)")
    figures.tidy(ax)
    if names:
        figures.legend_beside(ax, title="bands: min–max over seeds", title_fontsize="small")
    figures.save_figure(fig, path, dpi=90)  # refuses an unreadable figure, records the panels in the PNG
