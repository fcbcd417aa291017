"""Budget mode delivers F after compaction (EvoNet eq. 2–3: F is the ratio of synapses child/parent).

:func:`evosynth.evolution.environment.scaled` calibrates the *expected* count
of the sampled masks. The child the pipeline trains is what is left after
:func:`~evosynth.evolution.synthesis.keep_minimum` and compaction
(:func:`evosynth.nets.compaction.compact`), which also removes the synapses
that read a dead unit: with filter clusters, every fc1 input fed by a dead
conv2 filter. Measured on LeNet5 with filter clusters at F = 0.7, F_c = 0.85,
the realised ratio was 0.51–0.61.

:func:`offspring` therefore draws, settles and compacts, measures the realised
ratio (synapses, or MACs with ``target: macs``) against F × the parent's,
and, if it misses by more than :data:`TOLERANCE`, rescales the overall budget
by a multiplier m (F → min(1, m·F)) and draws again *with the same seed*: the
same uniform numbers, so the child only gains synapses as m grows and m is
found by bisection. With clusters, m first acts on the synapse level (the
cluster draw unchanged, F_c keeps its meaning). When the synapse level keeps
every synapse of the surviving clusters (m·F ≥ 1) and the child is still
short, because compaction amplifies the cluster draw (at F = 0.2,
F_c = √0.2 the surviving clusters held 0.19 of the parent after
compaction), F_c → min(1, m_c·F_c) is raised until the child reaches F, and
the synapse level is then settled again with that cluster draw (a revived
filter brings many synapses at once, so the cluster level alone is too coarse) (each draw measured with the cheap
:func:`~evosynth.nets.compaction.compacted_masks`; the chosen one compacted
for real). A first draw within the tolerance is kept as it is, so
runs whose compaction removes little (EvoNet at moderate F) are unchanged bit
for bit. Literal mode and an explicit ``synapse_factor`` are not calibrated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from evosynth.evolution.environment import Environment
from evosynth.evolution.synthesis import keep_minimum, synthesize_clustered, synthesize_synapses
from evosynth.nets.compaction import Compacted, compact, compacted_masks
from evosynth.nets.masks import Masks

if TYPE_CHECKING:
    from evosynth.nets.coupling import ChannelGroup

TOLERANCE = 0.01  # relative: |realised / (F × parent) − 1| ≤ 1 %
ITERATIONS = 30


def measured(masks: Masks, costs: dict[str, torch.Tensor] | None) -> float:
    """Living synapses, or the MACs they carry when ``costs`` are given."""
    if costs is None:
        return float(sum(int(m.sum()) for m in masks.values()))
    return float(sum(float((costs[n].to(m.device) * m).sum()) for n, m in masks.items()))


def offspring(
    model: nn.Module,
    genome: dict[str, Any],
    parent_masks: Masks,
    env: Environment,
    seed: int,
    input_shape: tuple[int, ...],
    output_layer: str,
    costs: dict[str, torch.Tensor],
    groups: Sequence[ChannelGroup] = (),
) -> tuple[Masks, dict[str, Any], Compacted]:
    """The child's masks in ancestor coordinates after keep_minimum and compaction, and its summary.

    ``genome`` holds ``synapses`` (P(s|w)) and, for cluster-driven methods,
    ``clusters`` and ``cluster_kind``; the output layer's clusters are protected.
    """

    def draw(knobs: tuple[float, float]) -> tuple[Masks, dict[str, Any]]:
        synapse_m, cluster_m = knobs
        scaled_env = env
        if knobs != (1.0, 1.0):
            scaled_env = replace(env, factor=min(1.0, env.factor * synapse_m),
                                 cluster_factor=min(1.0, env.cluster_factor * cluster_m))
        if "clusters" in genome:
            return synthesize_clustered(
                genome["synapses"], genome["clusters"], genome["cluster_kind"], scaled_env, seed, {output_layer},
                costs, groups,
            )
        return synthesize_synapses(genome["synapses"], scaled_env, seed, costs, groups)

    def realise(knobs: tuple[float, float]) -> tuple[Masks, dict[str, Any], Masks]:
        masks, summary = draw(knobs)
        masks = keep_minimum({n: m & parent_masks[n] for n, m in masks.items()}, genome["synapses"], output_layer,
                             groups)
        return compacted_masks(model, masks, input_shape), summary, masks

    def done(result: tuple[Masks, dict[str, Any], Masks], info: dict[str, Any]) -> tuple[Masks, dict, Compacted]:
        compacted = compact(model, result[2], input_shape)
        return compacted.ancestor_masks(result[2]), {**result[1], "calibration": info}, compacted

    weigh = costs if env.target == "macs" else None
    target = env.factor * measured(parent_masks, weigh)
    first = realise((1.0, 1.0))
    value = measured(first[0], weigh)
    info: dict[str, Any] = {"calibrate": env.calibrate, "multiplier": 1.0, "cluster_multiplier": 1.0, "draws": 1,
                            "first_ratio": value / target * env.factor if target else 0.0}
    calibrated = env.mode == "budget" and env.calibrate == "compacted" and env.synapse_factor is None
    if not calibrated or target == 0 or abs(value / target - 1) <= TOLERANCE:
        return done(first, info)
    state = {"best": first, "miss": abs(value / target - 1), "knobs": (1.0, 1.0), "draws": 1}

    def search(knob: Callable[[float], tuple[float, float]], lo: float, hi: float, steps: int = ITERATIONS) -> float:
        """Bisect one knob (geometric once lo > 0); return the smallest tried value that reached the target."""
        for _ in range(steps):
            if state["miss"] <= TOLERANCE:
                break
            mid = (lo * hi) ** 0.5 if lo > 0 else 0.5 * hi
            result = realise(knob(mid))
            reached = measured(result[0], weigh)
            state["draws"] += 1
            if abs(reached / target - 1) < state["miss"]:
                state.update(best=result, miss=abs(reached / target - 1), knobs=knob(mid))
            lo, hi = (mid, hi) if reached < target else (lo, mid)
        return hi

    synapses_all = 1.0 / env.factor  # F·m = 1: every synapse of the surviving clusters kept
    probe = value < target and "clusters" in genome  # can the synapse level alone reach F?
    short = probe and measured(realise((synapses_all, 1.0))[0], weigh) < target
    state["draws"] += int(probe)
    if not short:
        search(lambda m: (m, 1.0), *((1.0, synapses_all) if value < target else (0.0, 1.0)))
    else:
        # still short with every held synapse kept: compaction amplified the cluster draw. Raise F_c
        # until the child reaches F, then settle the synapse level with that cluster draw.
        clusters_m = search(lambda m: (synapses_all, m), 1.0, 1.0 / env.cluster_factor, steps=8)
        search(lambda m: (m, clusters_m), 0.0, synapses_all)
    info.update(multiplier=state["knobs"][0], cluster_multiplier=state["knobs"][1], draws=state["draws"],
                within=state["miss"] <= TOLERANCE)
    return done(state["best"], info)
