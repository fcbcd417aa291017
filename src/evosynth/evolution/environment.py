"""The environment: environmental factor models and the budget they set (EvoNet eq. 2–3).

``literal`` mode takes the products F·P as printed (times ``literal_scale``, 1 by
default: one fixed number for every generation and both arms of a comparison,
set so that a method shrinks at a paper's realised rate while each method
still shrinks at its own; docs/method.md §11.6). The papers define F as the
expected ratio of synapses child/parent, which the literal product does not
give, so the default ``budget`` mode calibrates a scale per level (bisection,
probabilities clipped to 1): the expected number of living clusters is F_c ×
the parent's, and the expected number of living synapses inside the surviving
clusters is F_s × what those clusters held. With F_s unset, the synapse level
is calibrated so that the expected synapse ratio child/parent is F overall,
which makes cluster-driven and EvoNet runs at equal F spend equal synapse
budgets. ``target: macs`` weighs every cluster (or synapse) by the
multiply-accumulates it carries, so the factors become expected MAC ratios.

Expected counts are those of the sampled masks; compaction then removes
synapses that read dead units (fc1's inputs from a dead conv2 filter), so with
filter clusters the child held far fewer synapses than F promised. With
``calibrate: compacted`` (the default) budget mode delivers F measured after
``keep_minimum`` and compaction (:mod:`evosynth.evolution.calibration`);
``sampled`` is the uncorrected calibration.

:func:`adapted` is an addition beyond the papers (docs/method.md §13.3): an
environment that slows the shrink when accuracy drops; off by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

MODES = ("budget", "literal")
TARGETS = ("synapses", "macs")
CALIBRATIONS = ("compacted", "sampled")


@dataclass(frozen=True)
class Environment:
    """Environmental factor models of one generation."""

    factor: float  # F: expected synapse (or MAC) ratio child/parent
    mode: str = "budget"
    cluster_factor: float = 1.0  # F_c: expected cluster (or cluster-MAC) ratio
    synapse_factor: float | None = None  # F_s inside surviving clusters; None: derived from F
    target: str = "synapses"
    calibrate: str = "compacted"  # F measured after keep_minimum and compaction, or on the sampled masks
    literal_scale: float = 1.0  # literal mode: every level's F·P multiplied by this (clipped to 1)

    def __post_init__(self) -> None:
        for name in ("factor", "cluster_factor") + (("synapse_factor",) if self.synapse_factor is not None else ()):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"environmental factor {name} must lie in (0, 1], got {value}")
        if self.mode not in MODES:
            raise ValueError(f"unknown environment mode {self.mode!r}; allowed: {', '.join(MODES)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown environment target {self.target!r}; allowed: {', '.join(TARGETS)}")
        if not self.literal_scale > 0:
            raise ValueError(f"environment literal_scale must be positive, got {self.literal_scale}")
        if self.literal_scale != 1.0 and self.mode != "literal":
            raise ValueError("environment literal_scale applies to literal mode only; budget mode calibrates its scale")
        if self.calibrate not in CALIBRATIONS:
            raise ValueError(
                f"unknown environment calibrate {self.calibrate!r}; allowed: {', '.join(CALIBRATIONS)}"
            )


def calibrate_scale(
    probabilities: list[torch.Tensor],
    target: float,
    costs: list[torch.Tensor] | None = None,
    iterations: int = 80,
) -> float:
    """The scale s with Σ min(1, s·p)·cost = target over all ``probabilities`` (bisection)."""
    flat = torch.cat([p.flatten().double() for p in probabilities])
    cost = torch.cat([c.flatten().double() for c in costs]) if costs is not None else torch.ones_like(flat)
    keep = (flat > 0) & (cost > 0)
    flat, cost = flat[keep], cost[keep]
    if target <= 0 or flat.numel() == 0:
        return 0.0
    ones = float(1.0 / flat.min()) * (1 + 2**-20)  # just above: every probability clips to 1
    if target >= float(cost.sum()):
        return ones
    lo, hi = 0.0, ones
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if float((torch.clamp(mid * flat, max=1.0) * cost).sum()) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def scaled(
    probabilities: dict[str, torch.Tensor],
    factor: float,
    mode: str,
    costs: dict[str, torch.Tensor] | None = None,
    target: float | None = None,
    literal_scale: float = 1.0,
) -> tuple[dict[str, torch.Tensor], float]:
    """k·factor·P (literal, k = ``literal_scale``) or s·P with s calibrated to ``target`` (default: factor × Σ
    cost of the living)."""
    if mode == "literal":
        scale = literal_scale * factor
    else:
        names = sorted(probabilities)
        cost_list = [costs[n] for n in names] if costs is not None else None
        if target is None:
            living = [(probabilities[n] > 0).double() * (costs[n] if costs is not None else 1.0) for n in names]
            target = factor * float(sum(t.sum() for t in living))
        scale = calibrate_scale([probabilities[n] for n in names], target, cost_list)
    return {name: torch.clamp(scale * p, max=1.0) for name, p in probabilities.items()}, scale


def environmental_factor(
    genome: dict[str, torch.Tensor], factor: float, mode: str = "budget"
) -> tuple[dict[str, torch.Tensor], float]:
    """EvoNet synthesis probabilities F(E)·P(s|w) and the scale applied to P.

    ``budget``: the scale is calibrated so the expected number of synapses in
    the child is ``factor`` × the parent's living synapses. ``literal``: the
    scale is ``factor`` itself (EvoNet eq. 3, P(H_g) = C·P(S_g|W_{g−1})).
    """
    Environment(factor, mode)
    return scaled(genome, factor, mode)


def expected_total(probabilities: dict[str, torch.Tensor]) -> float:
    return float(sum(p.double().sum() for p in probabilities.values()))


def parent_sized(env: Environment, genome: dict[str, Any]) -> Environment:
    """Budget factors relative to the parents' size, not to the union of two mated parents.

    A mated genome holds the union of both parents' living synapses and
    clusters; in budget mode F refers to "the parent", whose size is the
    parents' mean (``parent_synapses``, ``parent_clusters`` of :class:`~evosynth.evolution.mating.Mated`),
    so the factors are scaled down by parent size / union size.
    """
    if env.mode != "budget" or "parent_synapses" not in genome:
        return env
    living = sum(int((p > 0).sum()) for p in genome["synapses"].values())
    clusters = sum(int((p > 0).sum()) for p in genome["clusters"].values())
    return replace(
        env,
        factor=env.factor * min(1.0, genome["parent_synapses"] / living),
        cluster_factor=env.cluster_factor * min(1.0, genome["parent_clusters"] / clusters),
    )


def adapted(
    env: Environment, adaptive: dict[str, float] | None, ancestor_accuracy: float, parent_accuracy: float
) -> tuple[Environment, dict[str, Any]]:
    """The environment of a generation whose parents' accuracy may have fallen below the ancestor's.

    An addition (docs/method.md §13.3), extending EvoNet's environmental factor
    model F(E), which the papers hold fixed across generations: when the
    parents' accuracy is more than ``tolerance`` below the ancestor's, every
    factor is raised toward 1, F ← 1 − (1 − F)(1 − ``slowdown``), so the
    generation removes a fraction ``slowdown`` less and the next offspring
    trains on a larger network; otherwise (and with ``adaptive`` None) ``env``
    is unchanged. Returns the environment and a record of the decision.
    """
    if adaptive is None:
        return env, {}
    drop = ancestor_accuracy - parent_accuracy
    record: dict[str, Any] = {"ancestor_accuracy": ancestor_accuracy, "parent_accuracy": parent_accuracy,
                              "drop": drop, "tolerance": adaptive["tolerance"], "slowed": False}
    if drop <= adaptive["tolerance"]:
        return env, record
    keep = 1.0 - adaptive["slowdown"]

    def raise_(factor: float) -> float:
        return 1.0 - (1.0 - factor) * keep

    slowed = replace(
        env,
        factor=raise_(env.factor),
        cluster_factor=raise_(env.cluster_factor),
        synapse_factor=None if env.synapse_factor is None else raise_(env.synapse_factor),
    )
    record.update(slowed=True, factor=slowed.factor, cluster_factor=slowed.cluster_factor,
                  synapse_factor=slowed.synapse_factor)
    return slowed, record
