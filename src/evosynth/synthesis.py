"""Synthesis of offspring: environmental factor models and random mutation.

EvoNet eq. 2–4: the synthesis probability P(H_g) = F(E)·P(S_g|W_{g−1}); a
synapse exists in the offspring iff P ≥ U(0, 1). The cluster-driven encoding
(cluster paper eq. 1–5; sexual paper eq. 2) first draws clusters with
F_c·P(c), then synapses inside the surviving clusters with F_s·P(s|c).

``literal`` mode takes these products as printed. The papers define F as the
expected ratio of synapses child/parent, which the literal product does not
give, so the default ``budget`` mode calibrates a scale per level (bisection,
probabilities clipped to 1): the expected number of living clusters is F_c ×
the parent's, and the expected number of living synapses inside the surviving
clusters is F_s × what those clusters held. With F_s unset, the synapse level
is calibrated so that the expected synapse ratio child/parent is F overall,
which makes cluster-driven and EvoNet runs at equal F spend equal synapse
budgets. ``target: macs`` weighs every cluster (or synapse) by the
multiply-accumulates it carries, so the factors become expected MAC ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from evosynth.encoding import clusters_of
from evosynth.masks import Masks

MODES = ("budget", "literal")
TARGETS = ("synapses", "macs")


@dataclass(frozen=True)
class Environment:
    """Environmental factor models of one generation."""

    factor: float  # F: expected synapse (or MAC) ratio child/parent
    mode: str = "budget"
    cluster_factor: float = 1.0  # F_c: expected cluster (or cluster-MAC) ratio
    synapse_factor: float | None = None  # F_s inside surviving clusters; None: derived from F
    target: str = "synapses"

    def __post_init__(self) -> None:
        for name in ("factor", "cluster_factor") + (("synapse_factor",) if self.synapse_factor is not None else ()):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"environmental factor {name} must lie in (0, 1], got {value}")
        if self.mode not in MODES:
            raise ValueError(f"unknown environment mode {self.mode!r}; allowed: {', '.join(MODES)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown environment target {self.target!r}; allowed: {', '.join(TARGETS)}")


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


def _scaled(
    probabilities: dict[str, torch.Tensor],
    factor: float,
    mode: str,
    costs: dict[str, torch.Tensor] | None = None,
    target: float | None = None,
) -> tuple[dict[str, torch.Tensor], float]:
    """factor·P (literal) or s·P with s calibrated to ``target`` (default: factor × Σ cost of the living)."""
    if mode == "literal":
        scale = factor
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
    return _scaled(genome, factor, mode)


def seed_for(seed: int, generation: int, stream: str) -> int:
    """A 63-bit seed, independent per (experiment seed, generation, purpose)."""
    words = [seed, generation, *stream.encode()]
    return int(np.random.SeedSequence(words).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)


def sample_mask(probabilities: dict[str, torch.Tensor], seed: int) -> Masks:
    """EvoNet eq. 4: element k exists iff P_k > U(0, 1); P = 0 never survives."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.rand(p.shape, generator=generator, dtype=torch.float64) < p.double()
        for name, p in sorted(probabilities.items())
    }


def synthesize_synapses(
    genome: dict[str, torch.Tensor],
    env: Environment,
    seed: int,
    costs: dict[str, torch.Tensor] | None = None,
) -> tuple[Masks, dict[str, Any]]:
    """EvoNet (eq. 2–4): one draw per synapse with the calibrated (or literal) F·P(s|w)."""
    keep, scale = _scaled(genome, env.factor, env.mode, costs if env.target == "macs" else None)
    masks = sample_mask(keep, seed)
    return masks, {"synapse_scale": scale, "expected_synapses": _total(keep)}


def synthesize_clustered(
    synapse_genome: dict[str, torch.Tensor],
    cluster_genome: dict[str, torch.Tensor],
    kind: str,
    env: Environment,
    seed: int,
    protected: set[str] = frozenset(),
    costs: dict[str, torch.Tensor] | None = None,
) -> tuple[Masks, dict[str, Any]]:
    """Cluster-driven synthesis (cluster paper eq. 1–5): clusters first, then their synapses.

    Clusters of the ``protected`` layers (the output layer: its neurons are the
    classes) always survive the cluster draw; their synapses are still drawn.
    ``costs`` are per-synapse MACs, used when ``env.target`` is ``macs``.
    """
    use_costs = costs if env.target == "macs" else None
    living = {n: (p > 0) for n, p in synapse_genome.items()}
    cluster_costs = {
        n: clusters_of((use_costs[n] if use_costs else torch.ones_like(p)) * living[n], kind).sum(1)
        for n, p in synapse_genome.items()
    }
    free = {n: p for n, p in cluster_genome.items() if n not in protected}
    cluster_keep, cluster_scale = _scaled(
        free, env.cluster_factor, env.mode, {n: cluster_costs[n] for n in free} if use_costs else None
    )
    for name in protected:
        cluster_keep[name] = (cluster_genome[name] > 0).double()
    survivors = sample_mask(cluster_keep, seed_for(seed, 0, "clusters"))
    inside = {
        n: (clusters_of(torch.ones_like(p, dtype=torch.bool), kind) & survivors[n][:, None]).view_as(p)
        & living[n]
        for n, p in synapse_genome.items()
    }
    candidates = {n: p * inside[n] for n, p in synapse_genome.items()}
    per_synapse = use_costs or {n: torch.ones_like(p) for n, p in synapse_genome.items()}
    if env.synapse_factor is not None:  # calibrated on its own level
        synapse_factor, budget = env.synapse_factor, None
    elif env.mode == "literal":  # F = F_c·F_s as printed
        synapse_factor, budget = min(1.0, env.factor / env.cluster_factor), None
    else:  # derived: the overall expected ratio child/parent is F
        parent = sum(float((per_synapse[n] * living[n]).sum()) for n in living)
        held = sum(float((per_synapse[n] * inside[n]).sum()) for n in inside)
        budget = env.factor * parent
        synapse_factor = min(1.0, budget / held) if held else 1.0
    synapse_keep, synapse_scale = _scaled(candidates, synapse_factor, env.mode, use_costs, budget)
    masks = sample_mask(synapse_keep, seed_for(seed, 0, "synapses"))
    masks = {n: m & inside[n] for n, m in masks.items()}
    return masks, {
        "cluster_scale": cluster_scale,
        "synapse_scale": synapse_scale,
        "synapse_factor": synapse_factor,
        "parent_clusters": sum(int((p > 0).sum()) for p in cluster_genome.values()),
        "expected_clusters": _total(cluster_keep),
        "clusters": sum(int(s.sum()) for s in survivors.values()),
        "held_synapses": sum(int(m.sum()) for m in inside.values()),
        "expected_synapses": _total(synapse_keep),
    }


def keep_minimum(masks: Masks, genome: dict[str, torch.Tensor], output_layer: str) -> Masks:
    """No layer vanishes and no class loses its last synapse: revive the strongest where needed.

    The revived synapse is the one with the highest P(s|w) (the strongest |w|)
    among those living in the parent, so nothing dead in the parent comes back.
    """
    masks = {n: m.clone() for n, m in masks.items()}
    for name, mask in masks.items():
        p = genome[name]
        rows = [slice(None)] if name != output_layer else range(mask.shape[0])
        for row in rows:
            if not mask[row].any() and (p[row] > 0).any():
                flat = mask[row].view(-1)
                flat[int(p[row].reshape(-1).argmax())] = True
    return masks


def _total(probabilities: dict[str, torch.Tensor]) -> float:
    return float(sum(p.double().sum() for p in probabilities.values()))
