"""Verdicts with uncertainty: each paper's claim, paired by seed over the whole trajectory.

**The effect.** For one seed, the treatment's and the control's trajectories
(one point per generation; a population counts as its mean member) are
matched on an axis, by default the *synaptic efficiency* (A-E, the papers'
measure of how far evolution has gone), interpolated linearly on its log10
(efficiency grows geometrically, by about 1/F per generation). On the range
both trajectories cover, the effect is the mean over an even grid of
``metric(treatment) − metric(control)``: the signed area between the two
curves divided by the width, i.e. the average advantage at matched
efficiency over the whole trajectory rather than at one generation.
Accuracy differences are in percentage points; efficiencies (cluster
efficiency, MAC reduction, synaptic efficiency) are compared as log10
ratios, so +0.301 means the treatment is 2× better at matched efficiency.

Why this and not "efficiency reached at a fixed accuracy drop": a run that
never loses that much accuracy has no crossing (the value is censored), and
a run that drops early and recovers has several, so that effect is undefined
for some seeds; matched efficiency is defined for every seed, uses every
generation, and is what the papers plot (accuracy against efficiency, cluster
paper Fig. 3, sexual paper Fig. 5, StressedNets Fig. 6). ``at: generation``
matches on the generation instead: the sexual paper's claim is about how
many generations it takes (258× at generation 8 vs 139× at 13), so for it the
metric is synaptic efficiency at matched generation.

**The interval and the verdict.** Over the n seeds, the mean effect with a
two-sided t interval (n − 1 degrees of freedom, default 95 %). The claim is
*supported* when the interval lies above zero, *contradicted* when it lies
below, *inconclusive* when it contains zero (or n < 2: no interval).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from evosynth import figures
from evosynth.artifacts import write_csv, write_text
from evosynth.reporting.comparisons import LABELS, per_generation

LOG_METRICS = ("synaptic_efficiency", "cluster_efficiency", "mac_reduction")
GRID = 64  # points of the matched axis the mean difference is taken over


def axis(series: dict[int, dict[str, float]], at: str) -> np.ndarray:
    """The matching axis of a trajectory: the generation, or log10 of a ratio (synaptic efficiency by default)."""
    gens = sorted(series)
    if at == "generation":
        return np.array(gens, dtype=float)
    return np.log10([series[g][at] for g in gens])


def values(series: dict[int, dict[str, float]], metric: str) -> np.ndarray:
    """The compared quantity: accuracy in percentage points, efficiencies as log10."""
    raw = np.array([series[g][metric] for g in sorted(series)], dtype=float)
    return np.log10(raw) if metric in LOG_METRICS else 100.0 * raw


def _curve(series: dict[int, dict[str, float]], metric: str, at: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = axis(series, at), values(series, metric)
    order = np.argsort(x, kind="stable")  # efficiency may stall for a generation: keep the first of ties
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep]


def paired_effect(treatment: dict[int, dict[str, float]], control: dict[int, dict[str, float]],
                  metric: str, at: str = "synaptic_efficiency") -> float:
    """One seed's effect: the mean of treatment − control over the matched range both trajectories cover."""
    tx, ty = _curve(treatment, metric, at)
    cx, cy = _curve(control, metric, at)
    lo, hi = max(tx[0], cx[0]), min(tx[-1], cx[-1])
    if hi <= lo:  # the ranges touch at one point (or not at all): compare where they are closest
        return float(np.interp(lo, tx, ty) - np.interp(lo, cx, cy))
    grid = np.linspace(lo, hi, GRID)
    return float(np.mean(np.interp(grid, tx, ty) - np.interp(grid, cx, cy)))


def t_interval(effects: list[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, standard deviation and the two-sided t interval of the mean over seeds."""
    from scipy import stats  # a dependency of scikit-learn; only this needs it

    n = len(effects)
    mean = float(np.mean(effects)) if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "sd": math.nan, "low": math.nan, "high": math.nan}
    sd = float(np.std(effects, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half}


def verdict(interval: dict[str, float]) -> str:
    """supported (interval above 0), contradicted (below 0), inconclusive (contains 0, or no interval)."""
    if interval["n"] < 2 or math.isnan(interval["low"]):
        return "inconclusive"
    if interval["low"] > 0:
        return "supported"
    if interval["high"] < 0:
        return "contradicted"
    return "inconclusive"


def unit(metric: str) -> str:
    return "log10 ×" if metric in LOG_METRICS else "pp"


def judge(claim: dict[str, Any], treatment: dict[int, list[dict[str, Any]]], control: dict[int, list[dict[str, Any]]],
          confidence: float, target: float) -> dict[str, Any]:
    """A claim's row: per-seed effects, interval, verdict, and how far each arm went.

    ``treatment`` and ``control`` map each seed to that chain's metrics rows.
    """
    seeds = sorted(set(treatment) & set(control))
    t = {s: per_generation(treatment[s]) for s in seeds}
    c = {s: per_generation(control[s]) for s in seeds}
    effects = [paired_effect(t[s], c[s], claim["metric"], claim["at"]) for s in seeds]
    interval = t_interval(effects, confidence)
    last = {role: [arm[s][max(arm[s])]["synaptic_efficiency"] for s in seeds] for role, arm in (("treatment", t), ("control", c))}
    return {
        "metric": claim["metric"], "at": claim["at"], "unit": unit(claim["metric"]), "seeds": len(seeds),
        **{k: interval[k] for k in ("mean", "sd", "low", "high")}, "verdict": verdict(interval),
        "effects": " ".join(f"{e:+.3f}" for e in effects),
        "treatment_min_final_efficiency": min(last["treatment"], default=math.nan),
        "control_min_final_efficiency": min(last["control"], default=math.nan),
        "passes_target": bool(seeds) and min(last["treatment"] + last["control"]) >= target,
    }


def evidence_report(evidence: dict[str, Any], runs: dict[str, dict[int, list[dict[str, Any]]]],
                    factors: dict[str, float], paths: list[Path]) -> list[dict[str, Any]]:
    """Write evidence.md, evidence.csv, evidence.png (claims) and sweep.png; return the claims' rows.

    ``runs`` maps each experiment with seeds to {seed: metrics rows of that chain};
    ``factors`` each sweep experiment to its environmental factor F.
    """
    md, csv, png, sweep_png = paths
    confidence, target = evidence["confidence"], evidence["target_efficiency"]
    rows, lines = [], ["# The evidence set: each claim over seeds", "",
                       f"Effect: treatment − control, paired by seed, averaged over the matched range (module"
                       f" `evosynth.reporting.evidence`); {confidence:.0%} t interval over seeds; every arm should"
                       f" pass {target:g}× synaptic efficiency by its last generation.", "",
                       "| claim | metric, matched on | seeds | effect (mean) | interval | verdict | per seed |"
                       " final synaptic eff. (min, T / C) | paper |",
                       "|:---|:---|---:|---:|:---|:---|:---|:---|:---|"]
    for name, claim in evidence["claims"].items():
        row = {"claim": name, **judge(claim, runs[claim["treatment"]], runs[claim["control"]], confidence, target)}
        rows.append(row)
        reached = "" if row["passes_target"] else f" (below {target:g}×)"
        lines.append(
            f"| {name}: {claim['claim']} | {row['metric']} at matched {row['at']} | {row['seeds']} |"
            f" {row['mean']:+.3f} {row['unit']} | [{row['low']:+.3f}, {row['high']:+.3f}] | **{row['verdict']}** |"
            f" {row['effects']} | {row['treatment_min_final_efficiency']:.0f}× / {row['control_min_final_efficiency']:.0f}×"
            f"{reached} | {claim['paper'] or '–'} |")
    lines += ["", "One line per claim (for the README):", ""]
    lines += [f"- `{r['claim']}`: **{r['verdict']}**, effect {r['mean']:+.3f} {r['unit']},"
              f" {confidence:.0%} interval [{r['low']:+.3f}, {r['high']:+.3f}] over {r['seeds']} seeds" for r in rows]
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
        x, y = _curve(series, metric, at)
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
