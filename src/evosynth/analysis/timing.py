"""A timing harness whose comparisons can be trusted (issue 16, item 5).

Timing networks one after the other credits the later ones with the warm-up
of the earlier (caches, CPU frequency, the allocator): on this machine two
generations with the same dense architecture read 1.20× apart when timed in
sequence and 1.02× when timed in turns. Here every network of a comparison is
timed in one process, interleaved: ``rounds`` rounds, each visiting every
network once in a fresh random order, one untimed call then ``per_round``
timed runs per visit (the first call of a visit pays for the caches the other
networks evicted, and a visit is only a few runs). A speed-up is the ratio of
two networks' medians *within the same round*, so slow drifts of the machine
cancel; it is reported as the median over rounds with the 10th–90th
percentile of the rounds (the spread) and a 95 % bootstrap interval of the
median (rounds resampled). Two copies of one network read 1.00× within that
spread (tests/test_timing.py).

numpy only: the device mode of ``evosynth runtime`` uses it without torch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Samples = list[list[float]]  # per round, the timed runs in milliseconds


def interleave(
    runners: Mapping[str, Callable[[], Any]], rounds: int, per_round: int, warmup: int, seed: int = 0
) -> dict[str, Samples]:
    """Time every runner ``per_round`` times per round, the runners in a new random order each round.

    Each runner is first called ``warmup`` times (also in a random order,
    interleaved); every visit starts with one untimed call. Returns, per runner,
    the milliseconds of each timed call, by round.
    """
    if rounds < 1 or per_round < 1:
        raise ValueError(f"rounds and runs per round must be at least 1, got {rounds} and {per_round}")
    names = list(runners)
    rng = np.random.default_rng(seed)
    for _ in range(warmup):
        for i in rng.permutation(len(names)):
            runners[names[i]]()
    samples: dict[str, Samples] = {name: [] for name in names}
    for _ in range(rounds):
        for i in rng.permutation(len(names)):
            run, turn = runners[names[i]], []
            run()  # untimed: brings this network's weights and buffers back into the caches
            for _ in range(per_round):
                start = time.perf_counter()
                run()
                turn.append((time.perf_counter() - start) * 1e3)
            samples[names[i]].append(turn)
    return samples


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def latency(samples: Samples) -> dict[str, Any]:
    """Median and 10th/90th percentile of every timed call (ms), with the counts."""
    flat = [t for turn in samples for t in turn]
    return {
        "median_ms": statistics.median(flat),
        "p10_ms": _percentile(flat, 10),
        "p90_ms": _percentile(flat, 90),
        "runs": len(flat),
        "rounds": len(samples),
    }


def speedup(base: Samples, other: Samples, resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """How many times faster ``other`` is than ``base``: per round, median(base) / median(other).

    ``median`` is the median over rounds, ``p10``/``p90`` the spread of the
    rounds, ``low``/``high`` the 95 % percentile-bootstrap interval of the median.
    """
    if len(base) != len(other) or not base:
        raise ValueError(f"speed-up needs the same rounds for both networks, got {len(base)} and {len(other)}")
    ratios = np.array([statistics.median(b) / statistics.median(o) for b, o in zip(base, other, strict=True)])
    rng = np.random.default_rng(seed)
    medians = np.median(ratios[rng.integers(0, len(ratios), size=(resamples, len(ratios)))], axis=1)
    return {
        "median": float(np.median(ratios)),
        "p10": float(np.percentile(ratios, 10)),
        "p90": float(np.percentile(ratios, 90)),
        "low": float(np.percentile(medians, 2.5)),
        "high": float(np.percentile(medians, 97.5)),
    }


def within(value: float, interval: dict[str, float]) -> bool:
    """``value`` lies in the reported spread of a :func:`speedup` (p10–p90 of the rounds)."""
    return interval["p10"] <= value <= interval["p90"]
