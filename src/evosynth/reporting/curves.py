"""Trade-off curves over seeds: accuracy against compression per method, the table at fixed operating points,
and the from-scratch controls (docs/method.md §10.6).

The pruning-evaluation studies' form (Blalock et al. 2020; Liu et al. 2019):
every method's accuracy as a curve over compression, mean and 95 % band over
seeds, and the table at fixed compressions. A seed's trajectory is
interpolated linearly on log10 of the axis (:func:`evosynth.reporting.trajectories.curve`);
it contributes at a point only if it reaches that point (the table says how
many did). "Best other" at a point is the baseline with the highest mean
*decision* accuracy (validation) there; the evolved − best-other difference is
then taken on the *quoted* accuracy (test), paired by seed over the seeds
where both reach the point, with a t interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evosynth.errors import ArtifactError
from evosynth.reporting.trajectories import curve, t_interval

Series = dict[int, dict[str, Any]]
#: The curves' axes and their titles (ratios against the seed's ancestor, drawn on log x): two counted, one measured.
AXES = {"synaptic_efficiency": "synaptic efficiency (×, log scale)", "mac_reduction": "MAC reduction (×, log scale)",
        "latency_speedup": "measured batch-1 speed-up (×, log scale; ONNX Runtime, 1 thread)"}
GRID = 64


def trajectory(metrics: list[dict[str, Any]], keys: tuple[str, ...], source: str) -> Series:
    """One chain's metrics by generation; every file must hold ``keys`` (e.g. the decision's val_accuracy)."""
    for m in metrics:
        missing = [k for k in keys if m.get(k) is None]
        if missing:
            raise ArtifactError(f"{source}: generation {m.get('generation')} has no {', '.join(missing)};"
                                " allowed: metrics written by the evaluate step that records it (rerun it)")
    return {int(m["generation"]): m for m in metrics}


def at_point(series: Series, key: str, axis: str, point: float) -> float | None:
    """A seed's ``key`` (in pp) at ``point`` on ``axis``, interpolated on log10; None where it does not reach."""
    x, y = curve(series, key, axis)
    where = math.log10(point)
    if not x[0] - 1e-12 <= where <= x[-1] + 1e-12:
        return None
    return float(np.interp(where, x, y))


def method_at(seeds: dict[int, Series], key: str, axis: str, point: float, confidence: float) -> dict[str, Any]:
    """Over seeds: the t interval of ``key`` at ``point`` among the seeds that reach it, and which did."""
    reached = {s: v for s, series in seeds.items() if (v := at_point(series, key, axis, point)) is not None}
    return {**t_interval(list(reached.values()), confidence), "reached": len(reached), "seeds": len(seeds),
            "by_seed": reached}


def operating_points(methods: dict[str, dict[int, Series]], evolved: str, points: dict[str, list[float]],
                     confidence: float, quote: str = "accuracy", decide: str = "val_accuracy") -> list[dict[str, Any]]:
    """Per axis and point: each method's quoted accuracy; the best other method by ``decide``; the paired difference."""
    rows = []
    for axis, values in points.items():
        for point in values:
            quoted = {m: method_at(seeds, quote, axis, point, confidence) for m, seeds in methods.items()}
            decided = {m: method_at(seeds, decide, axis, point, confidence) for m, seeds in methods.items()}
            others = [m for m in methods if m != evolved and decided[m]["reached"]]
            best = max(others, key=lambda m: decided[m]["mean"]) if others else None
            paired = []
            if best is not None:
                mine, theirs = quoted[evolved]["by_seed"], quoted[best]["by_seed"]
                paired = [mine[s] - theirs[s] for s in sorted(mine) if s in theirs]
            rows.append({"axis": axis, "point": point, "methods": quoted, "best_other": best,
                         "difference": t_interval(paired, confidence)})
    return rows


def scratch_rows(methods: dict[str, dict[int, Series]], controls: dict[str, dict[int, dict[int, dict[str, Any]]]],
                 confidence: float, quote: str = "accuracy") -> list[dict[str, Any]]:
    """Per chain and generation: the network against its architecture trained from scratch, paired by seed (pp).
    A control stands where its network does on the counted axes, and at its own measured speed-up where it has one."""
    rows = []
    for name, by_generation in controls.items():
        for generation, by_seed in sorted(by_generation.items()):
            network = {s: methods[name][s][generation] for s in by_seed}
            paired = [100.0 * (network[s][quote] - by_seed[s][quote]) for s in sorted(by_seed)]
            rows.append({
                "method": name, "generation": generation,
                **{axis: float(np.mean([by_seed[s].get(axis, network[s][axis]) if axis == "latency_speedup"
                                        else network[s][axis] for s in by_seed]))
                   for axis in AXES if all(axis in network[s] for s in by_seed)},
                "network": t_interval([100.0 * network[s][quote] for s in sorted(by_seed)], confidence),
                "scratch": t_interval([100.0 * by_seed[s][quote] for s in sorted(by_seed)], confidence),
                "difference": t_interval(paired, confidence),
            })
    return rows


def band(seeds: dict[int, Series], key: str, axis: str, confidence: float) -> dict[str, np.ndarray]:
    """Mean and t interval of ``key`` over the seeds covering each point of a log10 grid of ``axis``; n per point."""
    curves = [curve(series, key, axis) for series in seeds.values()]
    grid = np.linspace(min(x[0] for x, _ in curves), max(x[-1] for x, _ in curves), GRID)
    stack = np.array([np.where((grid >= x[0]) & (grid <= x[-1]), np.interp(grid, x, y), np.nan) for x, y in curves])
    stats = [t_interval([v for v in column if not math.isnan(v)], confidence) for column in stack.T]
    return {"x": 10.0**grid, **{k: np.array([s[k] for s in stats], dtype=float) for k in ("n", "mean", "low", "high")}}
