"""Synthesis of offspring: random mutation under the environment (EvoNet eq. 2–4).

A synapse exists in the offspring iff P ≥ U(0, 1), with P = F(E)·P(S_g|W_{g−1})
(EvoNet eq. 2–3). The cluster-driven encoding (cluster paper eq. 1–5; sexual
paper eq. 2) first draws clusters with F_c·P(c), then synapses inside the
surviving clusters with F_s·P(s|c). The factors and their calibration are
:mod:`evosynth.evolution.environment`.

Coupled channels (residual adds; ``groups`` from
:func:`evosynth.nets.coupling.coupled_channels`) share one fate: filter clusters
of a group channel are drawn with one uniform number for all member layers,
and after any draw a channel kept by one producer is kept by all
(:func:`shared_fate`). Without coupled groups (LeNet5, AlexNet, YOLOv2:
concatenation couples nothing) every draw is exactly what it is without the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from evosynth.evolution.encoding import clusters_of, unit_groups
from evosynth.evolution.environment import Environment, expected_total, scaled
from evosynth.nets.coupling import network_groups
from evosynth.nets.masks import Masks, total_synapses, unit_mask

if TYPE_CHECKING:
    from evosynth.nets.coupling import ChannelGroup

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
    groups: Sequence[ChannelGroup] = (),
) -> tuple[Masks, dict[str, Any]]:
    """EvoNet (eq. 2–4): one draw per synapse with the calibrated (or literal) F·P(s|w).

    Coupled channels then share one fate (:func:`shared_fate`).
    """
    keep, scale = scaled(genome, env.factor, env.mode, costs if env.target == "macs" else None,
                         literal_scale=env.literal_scale)
    masks = shared_fate(sample_mask(keep, seed), genome, groups)
    return masks, {"synapse_scale": scale, "expected_synapses": expected_total(keep)}


def synthesize_clustered(
    synapse_genome: dict[str, torch.Tensor],
    cluster_genome: dict[str, torch.Tensor],
    kind: str,
    env: Environment,
    seed: int,
    protected: set[str] = frozenset(),
    costs: dict[str, torch.Tensor] | None = None,
    groups: Sequence[ChannelGroup] = (),
) -> tuple[Masks, dict[str, Any]]:
    """Cluster-driven synthesis (cluster paper eq. 1–5): clusters first, then their synapses.

    Clusters of the ``protected`` layers (the output layer: its neurons are the
    classes) always survive the cluster draw; their synapses are still drawn.
    ``costs`` are per-synapse MACs, used when ``env.target`` is ``macs``.
    Filter clusters of coupled ``groups`` are drawn once per group channel
    (:func:`draw_groups`); afterwards coupled channels share one fate.
    """
    use_costs = costs if env.target == "macs" else None
    living = {n: (p > 0) for n, p in synapse_genome.items()}
    cluster_costs = {
        n: clusters_of((use_costs[n] if use_costs else torch.ones_like(p)) * living[n], kind).sum(1)
        for n, p in synapse_genome.items()
    }
    free = {n: p for n, p in cluster_genome.items() if n not in protected}
    cluster_keep, cluster_scale = scaled(
        free, env.cluster_factor, env.mode, {n: cluster_costs[n] for n in free} if use_costs else None,
        literal_scale=env.literal_scale,
    )
    for name in protected:
        cluster_keep[name] = (cluster_genome[name] > 0).double()
    survivors = sample_mask(cluster_keep, seed_for(seed, 0, "clusters"))
    if groups:
        shared = [g for g in unit_groups(groups, synapse_genome, kind) if not protected & set(g.producers)]
        survivors = draw_groups(survivors, cluster_keep, shared, seed_for(seed, 0, "channel groups"))
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
    synapse_keep, synapse_scale = scaled(candidates, synapse_factor, env.mode, use_costs, budget,
                                         literal_scale=env.literal_scale)
    masks = sample_mask(synapse_keep, seed_for(seed, 0, "synapses"))
    masks = shared_fate({n: m & inside[n] for n, m in masks.items()}, synapse_genome, groups)
    return masks, {
        "cluster_scale": cluster_scale,
        "synapse_scale": synapse_scale,
        "synapse_factor": synapse_factor,
        "parent_clusters": sum(int((p > 0).sum()) for p in cluster_genome.values()),
        "expected_clusters": expected_total(cluster_keep),
        "clusters": sum(int(s.sum()) for s in survivors.values()),
        "held_synapses": total_synapses(inside),
        "expected_synapses": expected_total(synapse_keep),
    }


def draw_groups(
    survivors: Masks, keep: dict[str, torch.Tensor], groups: Sequence[ChannelGroup], seed: int
) -> Masks:
    """One Bernoulli draw per coupled channel, applied to every member filter (cluster paper eq. 4).

    A group channel survives iff U(0, 1) < its keep probability, the largest
    of its living members' (equal when the genome was encoded with the same
    groups); member filters dead in the parent stay dead.
    """
    survivors = {n: m.clone() for n, m in survivors.items()}
    generator = torch.Generator().manual_seed(seed)
    for group in groups:
        probability = torch.zeros(group.size, dtype=torch.float64)
        for name, members in group.producers.items():
            probability.scatter_reduce_(0, members.root, keep[name][members.index].double().cpu(), "amax")
        alive = torch.rand(group.size, generator=generator, dtype=torch.float64) < probability
        for name, members in group.producers.items():
            survivors[name][members.index] = alive[members.root].to(survivors[name].device) & (
                keep[name][members.index] > 0
            )
    return survivors


def shared_fate(masks: Masks, genome: dict[str, torch.Tensor], groups: Sequence[ChannelGroup]) -> Masks:
    """A coupled channel lives in all its producers or in none.

    Its output is the sum of its producers' (a residual add), so it is zero,
    and removable, only when every producer is dead. If some of ``groups``
    (:func:`evosynth.nets.coupling.coupled_channels` or ``channel_groups``) is
    coupled, the masks are settled to what compaction keeps:
    a channel that no producer writes or no reader reads is dead, with its
    producers' filters and its readers' synapses; a producer whose filter
    is dead while its coupled channel lives keeps its strongest parent
    synapse (highest P(s|w), as :func:`keep_minimum` does) that reads a
    living input, or, if it has none, the channel dies in every producer.
    This repeats until nothing changes. Nothing dead in the parent comes back.
    """
    if not any(g.coupled for g in groups):
        return masks
    groups = network_groups(groups)
    masks = {n: m.clone() for n, m in masks.items()}
    for _ in range(sum(g.size for g in groups) + 2):  # each pass kills a channel or revives for good
        dead, live_inputs = _dead_channels(masks, groups)
        changed = False
        for group, channels in zip(groups, dead, strict=True):
            for name, members in group.producers.items():
                rows = members.index[channels[members.root]]
                if masks[name][rows].any():
                    masks[name][rows], changed = False, True
            for name, members in group.readers.items():
                features = members.index[channels[members.root]]
                if masks[name][:, features].any():
                    masks[name][:, features], changed = False, True
        for group, channels in zip(groups, dead, strict=True):
            if group.coupled:
                changed |= _revive_members(masks, genome, group, channels, live_inputs)
        if not changed:
            break
    return masks


def _dead_channels(masks: Masks, groups: Sequence[ChannelGroup]) -> tuple[list[torch.Tensor], Masks]:
    """Per group, channels that no producer writes or no reader reads; per layer, its living inputs."""
    live_inputs = {n: torch.ones(m.shape[1], dtype=torch.bool) for n, m in masks.items()}
    dead = []
    for group in groups:
        channels = ~(group.written(masks) & group.read(masks))
        for name, members in group.readers.items():
            live_inputs[name][members.index] &= ~channels[members.root]
        dead.append(channels)
    return dead, live_inputs


def _revive_members(
    masks: Masks, genome: dict[str, torch.Tensor], group: ChannelGroup, dead: torch.Tensor, live_inputs: Masks
) -> bool:
    """Give every dead producer of a living coupled channel its strongest synapse from a living input."""
    changed = False
    for name, members in group.producers.items():
        units = unit_mask(masks[name])[members.index].cpu()
        for k in (~units & ~dead[members.root]).nonzero().flatten().tolist():
            unit, channel = int(members.index[k]), int(members.root[k])
            row = genome[name][unit]
            live = live_inputs[name].to(row.device).view(-1, *([1] * (row.dim() - 1)))
            candidates = torch.where((row > 0) & live, row, torch.zeros_like(row))
            if candidates.any():
                masks[name][unit].view(-1)[int(candidates.reshape(-1).argmax())] = True
            else:  # no living input left: the channel dies in every producer
                for other, m in group.producers.items():
                    masks[other][m.index[m.root == channel]] = False
                dead[channel] = True
            changed = True
    return changed


def keep_minimum(
    masks: Masks, genome: dict[str, torch.Tensor], output_layer: str, groups: Sequence[ChannelGroup] = ()
) -> Masks:
    """No layer vanishes and no class loses its last synapse: revive the strongest where needed.

    The revived synapse is the one with the highest P(s|w) (the strongest |w|)
    among those living in the parent, so nothing dead in the parent comes back.
    With coupled ``groups`` the masks are settled first (:func:`shared_fate`),
    the revived synapse is the strongest one reading a living input, and
    coupled channels then share one fate again.
    """
    masks = shared_fate(masks, genome, groups)
    live = _dead_channels(masks, network_groups(groups))[1] if any(g.coupled for g in groups) else None
    for name, mask in masks.items():
        p = genome[name]
        if live is not None:
            readable = live[name].to(p.device).view(1, -1, *([1] * (p.dim() - 2)))
            p = torch.where(readable & (p > 0), p, p * 1e-6)  # prefer living inputs, never exclude
        rows = [slice(None)] if name != output_layer else range(mask.shape[0])
        for row in rows:
            if not mask[row].any() and (p[row] > 0).any():
                flat = mask[row].view(-1)
                flat[int(p[row].reshape(-1).argmax())] = True
    return shared_fate(masks, genome, groups)
