"""The pick set's Pareto figures: accuracy against each axis of issue 16, every run over its seeds.

One figure per axis: synaptic efficiency; kernels and filters (cluster
efficiency, and the ratio of living filters); measured latency (batch-1 and
batch-256 speed-up over the ancestor, ONNX Runtime, one thread). Each run is
its mean trajectory over seeds with the min–max band (accuracy interpolated
on log10 of the ratio, :func:`evosynth.reporting.evidence.band`), its
selected networks as markers (one per seed), and the tolerance line below
the pick's ancestors' mean accuracy. Every x axis is a ratio over the
ancestor, so it is logarithmic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evosynth import figures
from evosynth.reporting.evidence import band
from evosynth.reporting.picks import B1, B256, Chains, Row

#: File → panels, each (x key, x axis title, panel title); the unit (× the ancestor) and scale come from
#: :func:`evosynth.figures.ratio_axis`.
FIGURES = (
    ("pareto_synapses", (("synaptic_efficiency", "synaptic efficiency: ancestor's synapses / living",
                          "accuracy vs synapses"),)),
    ("pareto_filters", (("cluster_efficiency", "cluster efficiency: ancestor's kernels / living",
                         "accuracy vs kernels"),
                        ("filter_reduction", "filter reduction: ancestor's filters / living", "accuracy vs filters"))),
    ("pareto_latency", ((B1, "batch-1 speed-up, ORT 1 thread", "accuracy vs batch-1 latency"),
                        (B256, "batch-256 throughput speed-up, ORT 1 thread", "accuracy vs batch-256 throughput"))),
)
GRID = 128


def pareto_figures(runs: Mapping[str, Chains], chosen: Mapping[str, Mapping[int, Row]], pick: str,
                   tolerance: float, paths: Mapping[str, Path]) -> None:
    """Write every figure of :data:`FIGURES` to ``paths[name]``; a panel without its quantity says so."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ancestors = [min(rows, key=lambda r: r["generation"])["accuracy"] for rows in runs[pick].values()]
    line = 100 * (float(np.mean(ancestors)) - tolerance)
    for name, panels in FIGURES:
        fig, axes = figures.grid(len(panels), panel=(5.6, 4.2))
        for ax, (key, xlabel, title) in zip(axes, panels):
            _panel(ax, runs, chosen, key, xlabel)
            ax.axhline(line, color="k", ls=":", lw=1,
                       label=f"{100 * tolerance:g} pp below {pick}'s ancestors (mean {100 * np.mean(ancestors):.2f} %)")
            ax.set(title=title, ylabel="test accuracy (%)")
            figures.tidy(ax, generations=False)
        keys = [Patch(color="0.6", alpha=0.4, label="band: min–max over seeds"),
                Line2D([], [], color="0.6", marker="o", mec="k", ls="none", label="the selected network of each seed")]
        handles, labels = axes[0].get_legend_handles_labels()
        figures.figure_legend(fig, handles + keys, labels + [k.get_label() for k in keys], columns=3)
        figures.save_figure(fig, paths[name], dpi=90)  # refuses an unreadable figure


def _panel(ax: Any, runs: Mapping[str, Chains], chosen: Mapping[str, Mapping[int, Row]], key: str,
           xlabel: str) -> None:
    xs = [r[key] for chains in runs.values() for rows in chains.values() for r in rows if r.get(key, 0) > 0]
    if not xs:
        ax.text(0.5, 0.5, f"{key}: not measured", ha="center", transform=ax.transAxes)
        figures.ratio_axis(ax, "x", [1.0], xlabel, unit="×")
        return
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    grid = np.linspace(lo, hi if hi > lo else lo + 1e-9, GRID)
    for run, chains in runs.items():
        series = [{r["generation"]: r for r in rows if r.get(key, 0) > 0} for rows in chains.values()]
        series = [s for s in series if s]
        if not series:
            continue
        x, mean, low, high = band(series, "accuracy", grid, at=key)
        drawn, = ax.plot(10 ** x, mean, "-", lw=1.8, label=f"{run}: mean of {len(series)} seeds")
        ax.fill_between(10 ** x, low, high, color=drawn.get_color(), alpha=0.2)
        picked = [r for r in chosen[run].values() if r.get(key, 0) > 0]
        ax.plot([r[key] for r in picked], [100 * r["accuracy"] for r in picked], "o", color=drawn.get_color(),
                mec="k", ms=6)
    figures.ratio_axis(ax, "x", xs, xlabel, unit="×")
