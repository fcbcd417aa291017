"""The search for the evolved configuration: every configuration tried, one chosen on validation accuracy alone
(docs/method.md §10.6).

The configurations tried are the evolved run and ``curves.search.candidates``
(evolved runs over the method's own knobs, each sharing the evolved run's
ancestor of every seed). Each is scored by the area under its validation
accuracy over log10 of one axis (MAC reduction by default), between the
axis's lowest and highest operating point, divided by the width of that range:
the mean validation accuracy (pp) over the range, per seed, then averaged
over the seeds every configuration runs (a candidate may run fewer seeds than
the evolved run; the extra seeds of the others take no part, so all are
scored on the same seeds). Where a seed's chain does not reach a part of the range it has no
network there, and that part counts as 0 % (a configuration that stops short
of the range loses the stretch it misses). The configuration of largest mean
area is chosen; a tie goes to the one listed first (the evolved run).

Why the area and not a count of operating points won: the area uses the
whole stretch of the curve the targets are about (every point from the lowest
to the highest operating point), not four samples of it; a configuration's
score does not depend on which other configurations were tried, so adding a
candidate never reorders the others; and since every configuration is judged
against the same baselines, ranking by the area of the accuracy is ranking by
the area of its margin over any baseline. Only ``key`` (validation accuracy)
and the axis are read: the test accuracy never takes part in the choice
(tests/test_curves_search.py permutes it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evosynth.reporting.trajectories import curve, t_interval
from evosynth.scores import VALIDATION

Series = dict[int, dict[str, Any]]
#: Intervals of the range the area is summed over (trapezoids on log10 of the axis).
STEPS = 256


def val_area(series: Series, axis: str, low: float, high: float, key: str = VALIDATION) -> float:
    """A seed's mean ``key`` accuracy (pp) over log10 of ``axis`` in [low, high]; 0 where the chain does not reach."""
    x, y = curve(series, key, axis)
    grid = np.linspace(math.log10(low), math.log10(high), STEPS + 1)
    reached = (grid >= x[0] - 1e-12) & (grid <= x[-1] + 1e-12)
    accuracy = np.where(reached, np.interp(grid, x, y), 0.0)
    return float(np.mean((accuracy[1:] + accuracy[:-1]) / 2))


def search(configurations: dict[str, dict[int, Series]], axis: str, points: list[float], confidence: float,
           key: str = VALIDATION) -> dict[str, Any]:
    """Every configuration's area over the seeds they all run (t interval) and the chosen one; ``configurations`` in
    params order."""
    low, high = min(points), max(points)
    shared = sorted(set.intersection(*(set(seeds) for seeds in configurations.values())))
    rows = []
    for name, every in configurations.items():
        seeds = {s: every[s] for s in shared}
        areas = {s: val_area(series, axis, low, high, key) for s, series in seeds.items()}
        reached = sum(curve(series, key, axis)[0][-1] >= math.log10(high) - 1e-12 for series in seeds.values())
        rows.append({"configuration": name, **t_interval(list(areas.values()), confidence), "by_seed": areas,
                     "reached": int(reached), "seeds": len(seeds)})
    best = max(range(len(rows)), key=lambda i: (rows[i]["mean"], -i))  # a tie: the first listed
    for i, row in enumerate(rows):
        row["chosen"] = i == best
    return {"rows": rows, "chosen": rows[best]["configuration"], "tried": len(rows), "axis": axis,
            "low": low, "high": high, "key": key, "seeds": shared}
