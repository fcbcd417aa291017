"""Trajectories of a chain and the statistics over seeds that every verdict uses.

A trajectory is one chain's metrics by generation (a population counts as its
mean member). Two trajectories are matched on an axis, by default the
*synaptic efficiency* (A-E, the papers' measure of how far evolution has gone),
interpolated linearly on its log10 (efficiency grows geometrically, by about
1/F per generation), or on the generation. Accuracy is compared in percentage
points; efficiencies (cluster efficiency, MAC reduction, synaptic efficiency)
as log10 ratios, so +0.301 means the treatment is 2× better.

Over the n seeds, the mean effect carries a two-sided t interval (n − 1
degrees of freedom, default 95 %).
"""

from __future__ import annotations

import math

import numpy as np

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


def curve(series: dict[int, dict[str, float]], metric: str, at: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = axis(series, at), values(series, metric)
    order = np.argsort(x, kind="stable")  # efficiency may stall for a generation: keep the first of ties
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep]


def paired_effect(treatment: dict[int, dict[str, float]], control: dict[int, dict[str, float]],
                  metric: str, at: str = "synaptic_efficiency") -> float:
    """One seed's effect: the mean of treatment − control over the matched range both trajectories cover."""
    tx, ty = curve(treatment, metric, at)
    cx, cy = curve(control, metric, at)
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
