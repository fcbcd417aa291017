"""The trade-off curves' measured axis: batch-1 speed-up against the seed's ancestor (docs/method.md §10.6).

Each network's speed-up is measured per chain (the latency step: ONNX Runtime,
one thread, batch 1, interleaved with a second copy of the seed's ancestor)
and sits in its generation's metrics as ``latency_speedup``. Over seeds a
speed-up is a ratio, so it is averaged as a geometric mean, with the t
interval taken on log10 and mapped back. The same-architecture control of
each chain's timing must read 1.00× within the spread of its rounds.
"""

from __future__ import annotations

import math
from typing import Any

from evosynth.reporting.trajectories import t_interval

AXIS = "latency_speedup"


def geometric(ratios: list[float], confidence: float) -> dict[str, Any]:
    """Geometric mean of ratios over seeds with its t interval (taken on log10); n."""
    t = t_interval([math.log10(r) for r in ratios], confidence)
    return {"n": t["n"], **{k: 10.0 ** t[k] if not math.isnan(t[k]) else math.nan for k in ("mean", "low", "high")}}


def latency_rows(methods: dict[str, dict[int, dict[int, dict[str, Any]]]], confidence: float) -> list[dict[str, Any]]:
    """Per generation: each method's geometric-mean speed-up over its seeds and mean latency (ms)."""
    generations = sorted({g for seeds in methods.values() for series in seeds.values() for g in series})
    rows = []
    for g in generations:
        row: dict[str, Any] = {"generation": g}
        for name, seeds in methods.items():
            here = [series[g] for series in seeds.values() if g in series]
            row[name] = {**geometric([m[AXIS] for m in here], confidence),
                         "latency_ms": float(sum(m["latency_ms"] for m in here) / len(here)) if here else math.nan}
        rows.append(row)
    return rows


def control_lines(controls: dict[str, dict[str, Any]]) -> list[str]:
    """One line per timing (a chain): the copy of its seed's ancestor against the ancestor, and whether it reads
    1.00×."""
    lines = []
    for chain, c in controls.items():
        s = c["speedup"]
        verdict = ("1.00× within the spread" if c["within_spread"]
                   else "NOT 1.00× within the spread: the timings of this chain are suspect")
        lines.append(f"- {chain}: a second copy of {c['copy_of']} reads {s['median']:.3f}× [{s['p10']:.3f}–"
                     f"{s['p90']:.3f}] ({verdict})")
    return lines


def markdown(rows: list[dict[str, Any]], controls: dict[str, dict[str, Any]], methods: list[str]) -> list[str]:
    """The latency section of curves.md: speed-up by generation per method, then the controls."""
    def cell(c: dict[str, Any]) -> str:
        if not c["n"]:
            return "–"
        band = f" [{c['low']:.2f}, {c['high']:.2f}]" if not math.isnan(c["low"]) else ""
        return f"{c['mean']:.2f}×{band} ({c['latency_ms']:.3f} ms)"

    lines = ["## Measured batch-1 latency", "",
             "Speed-up against the seed's ancestor, ONNX Runtime, 1 thread, batch 1 (geometric mean over seeds"
             " [95 % t interval on log10]; mean latency in parentheses). Every network of a chain (its generations"
             " and its from-scratch controls) timed in one process beside its seed's ancestor, interleaved in"
             " rounds; a speed-up is the median over rounds of the ratio of medians.", "",
             "| generation | " + " | ".join(methods) + " |", "|---:|" + "---:|" * len(methods)]
    lines += [f"| {r['generation']} | " + " | ".join(cell(r[m]) for m in methods) + " |" for r in rows]
    return [*lines, "", "Same-architecture control (must read 1.00×):", *control_lines(controls), ""]
