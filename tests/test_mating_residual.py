"""Sexual synthesis of residual networks (sexual paper eq. 3–5 with coupled channels).

Two ResNet-56 parents with different residual masks mate; the offspring's
coupled channels live or die together in every member layer, and its
compacted network computes what the masked one computes.
"""

from __future__ import annotations

import pytest
import torch
from test_architectures import _randomise_norms
from test_compaction import TinyResidual
from torch import nn

from evosynth.evolution.encoding import encode, encode_clusters
from evosynth.evolution.environment import Environment, parent_sized
from evosynth.evolution.mating import MatingWeights, blend_state, mate
from evosynth.evolution.synthesis import keep_minimum, shared_fate, synthesize_clustered
from evosynth.nets.architectures import LeNet5
from evosynth.nets.architectures.resnet import ResNet56
from evosynth.nets.compaction import compact
from evosynth.nets.coupling import channel_groups, coupled_channels
from evosynth.nets.masks import Masks, apply_masks, full_masks, prunable_layers, unit_mask

SHAPE = (3, 16, 16)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: layer.weight.detach() for name, layer in prunable_layers(model)}


def _split(groups, masks: Masks) -> int:
    """Coupled channels alive in some producers and dead in others."""
    split = 0
    for group in groups:
        alive = torch.stack([group.per_channel(n, unit_mask(masks[n])[m.index]) for n, m in group.producers.items()])
        split += int((alive.any(0) & ~alive.all(0)).sum())
    return split


def _dead_channels(groups, masks: Masks) -> set[tuple[str, int]]:
    return {(g.root, c) for g in groups for c in (~g.written(masks)).nonzero().flatten().tolist()}


def _parent(ancestor: nn.Module, groups, seed: int) -> tuple[nn.Module, Masks]:
    """A filter-cluster offspring of ``ancestor`` at F = 0.5, as the encode and synthesize steps make it."""
    model = ResNet56(*SHAPE[:1], 10, SHAPE[1], width=0.5)
    model.load_state_dict(ancestor.state_dict())
    masks = full_masks(model)
    genome = encode(_weights(model), masks)
    clusters = encode_clusters(_weights(model), masks, "filter", 0.1, groups=groups)
    offspring, _ = synthesize_clustered(genome, clusters, "filter", Environment(0.5, cluster_factor=0.5), seed,
                                        {"fc"}, groups=groups)
    masks = keep_minimum(offspring, genome, "fc", groups)
    masks = compact(model, masks, SHAPE).ancestor_masks(masks)
    with torch.no_grad():  # training moves the parents apart
        for _, layer in prunable_layers(model):
            layer.weight.add_(torch.randn(layer.weight.shape, generator=torch.Generator().manual_seed(seed)) * 0.05)
    _randomise_norms(model, seed)
    apply_masks(model, masks)
    return model, masks


def _offspring(parent_a, parent_b, groups, seed: int = 0) -> tuple[nn.Module, Masks, Masks]:
    """Mate (eq. 4–5), encode, synthesize, keep the minimum: the encode and synthesize steps on two parents."""
    (model_a, masks_a), (model_b, masks_b) = parent_a, parent_b
    weights = MatingWeights()
    mated = mate(_weights(model_a), masks_a, _weights(model_b), masks_b, weights, "filter", 0.1, groups)
    child = ResNet56(*SHAPE[:1], 10, SHAPE[1], width=0.5)
    child.load_state_dict(blend_state(model_a.state_dict(), model_b.state_dict(), weights))
    with torch.no_grad():
        for name, layer in prunable_layers(child):
            layer.weight.copy_(mated.weights[name])
    genome = encode(_weights(child), mated.masks)
    clusters = encode_clusters(_weights(child), mated.masks, "filter", 0.1, mated.cluster_strengths, groups)
    env = parent_sized(Environment(0.7, cluster_factor=0.8),
                       {"synapses": genome, "clusters": clusters, "parent_synapses": mated.parent_synapses,
                        "parent_clusters": mated.parent_clusters})
    masks, _ = synthesize_clustered(genome, clusters, "filter", env, seed, {"fc"}, groups=groups)
    masks = keep_minimum({n: m & mated.masks[n] for n, m in masks.items()}, genome, "fc", groups)
    return child, mated.masks, masks


@pytest.fixture(scope="module")
def family():
    torch.manual_seed(0)
    ancestor = ResNet56(*SHAPE[:1], 10, SHAPE[1], width=0.5)
    groups = coupled_channels(ancestor, SHAPE)
    return groups, _parent(ancestor, groups, 1), _parent(ancestor, groups, 2)


def _assert_compacts_exactly(child: nn.Module, masks: Masks) -> None:
    apply_masks(child, masks)
    small = compact(child, masks, SHAPE)
    assert sum(p.numel() for p in small.model.parameters()) < sum(p.numel() for p in child.parameters())
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(5))
    child.eval(), small.model.eval()
    with torch.no_grad():
        assert (child(x) - small.model(x)).abs().max() <= 1e-4


def test_parents_with_different_residual_masks_give_a_consistent_offspring(family) -> None:
    groups, parent_a, parent_b = family
    dead_a, dead_b = _dead_channels(groups, parent_a[1]), _dead_channels(groups, parent_b[1])
    assert dead_a and dead_b and dead_a != dead_b  # the residual streams differ
    child, mated, masks = _offspring(parent_a, parent_b, groups)
    assert _split(groups, mated) == 0 and _split(groups, masks) == 0
    assert _dead_channels(groups, mated) == dead_a & dead_b  # a channel lives if it lives in a parent
    for name in masks:  # nothing dead in both parents comes back
        assert not (masks[name] & ~parent_a[1][name] & ~parent_b[1][name]).any()
    _assert_compacts_exactly(child, masks)


def _break(masks: Masks, group, channel: int) -> Masks:
    """Kill ``channel`` in one producer of ``group`` only: a residual stream left inconsistent."""
    broken = {n: m.clone() for n, m in masks.items()}
    name, members = next(iter(group.producers.items()))
    broken[name][members.index[members.root == channel]] = False
    return broken


def test_a_half_dead_residual_channel_is_settled_as_one_unit(family) -> None:
    groups, (model_a, masks_a), (model_b, masks_b) = family
    group = max(groups, key=lambda g: g.size)
    alive_a, alive_b = group.written(masks_a), group.written(masks_b)
    channel = int((alive_a & ~alive_b).nonzero()[0])  # alive in A only
    broken = _break(masks_a, group, channel)
    apply_masks(model_a, broken)
    weights_a, weights_b = _weights(model_a), _weights(model_b)
    plain = mate(weights_a, broken, weights_b, masks_b, MatingWeights(), "filter", 0.1)
    assert _split(groups, plain.masks) > 0  # without the groups the stream is inconsistent
    mated = mate(weights_a, broken, weights_b, masks_b, MatingWeights(), "filter", 0.1, groups)
    assert _split(groups, mated.masks) == 0
    killed = 0
    for name, mask in mated.masks.items():
        assert not (mask & ~plain.masks[name]).any()  # settling only kills
        assert not (mated.weights[name][~mask] != 0).any()
        alive = mask.flatten(1).any(1)  # a filter settling killed has no cluster strength left (eq. 4)
        assert (mated.cluster_strengths[name][~alive] == 0).all(), name
        assert torch.equal(mated.cluster_strengths[name][alive], plain.cluster_strengths[name][alive]), name
        killed += int((plain.masks[name].flatten(1).any(1) & ~alive).sum())
    assert killed > 0
    child, _, masks = _offspring((model_a, broken), (model_b, masks_b), groups, seed=4)
    assert _split(groups, masks) == 0
    _assert_compacts_exactly(child, masks)


@pytest.mark.parametrize("find", [coupled_channels, channel_groups])
def test_chains_mate_bit_identically_with_or_without_groups(find) -> None:
    torch.manual_seed(0)
    model = LeNet5()
    shape = (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    w = _weights(model)
    masks_a = {n: torch.rand(m.shape, generator=g) < 0.6 for n, m in w.items()}
    masks_b = {n: torch.rand(m.shape, generator=g) < 0.6 for n, m in w.items()}
    wb = {n: v + 0.1 for n, v in w.items()}
    plain = mate(w, masks_a, wb, masks_b, MatingWeights(0.3, 0.7, 0.6, 0.4), "filter", 0.1)
    grouped = mate(w, masks_a, wb, masks_b, MatingWeights(0.3, 0.7, 0.6, 0.4), "filter", 0.1, find(model, shape))
    for name in w:
        assert torch.equal(plain.masks[name], grouped.masks[name])
        assert torch.equal(plain.weights[name], grouped.weights[name])
        assert torch.equal(plain.cluster_strengths[name], grouped.cluster_strengths[name])
    assert (plain.parent_synapses, plain.parent_clusters) == (grouped.parent_synapses, grouped.parent_clusters)


def test_clustered_synthesis_settles_the_coupled_filters_its_synapse_draw_empties(family, monkeypatch) -> None:
    """At F_s = 1/4 inside surviving filters some producer of a living residual channel draws no synapse: the
    synthesis itself gives it back its strongest one from a living input (with the synapse genome), so its
    output, before any keep_minimum, already has every coupled channel alive in all producers or in none."""
    import evosynth.evolution.synthesis as synthesis

    groups, (model, masks), _ = family
    genome = encode(_weights(model), masks)
    clusters = encode_clusters(_weights(model), masks, "filter", 0.1, groups=groups)
    env = Environment(0.2, cluster_factor=0.8)
    settled, _ = synthesize_clustered(genome, clusters, "filter", env, 3, {"fc"}, groups=groups)
    with monkeypatch.context() as m:  # the same draw left unsettled
        m.setattr(synthesis, "shared_fate", lambda drawn, _genome, _groups: drawn)
        raw, _ = synthesize_clustered(genome, clusters, "filter", env, 3, {"fc"}, groups=groups)
    assert _split(groups, raw) > 0 and _split(groups, settled) == 0
    revived = 0
    for name in settled:
        assert not (settled[name] & ~masks[name]).any()  # nothing dead in the parent comes back
        for unit in (unit_mask(settled[name]) & ~unit_mask(raw[name])).nonzero().flatten().tolist():
            gained = settled[name][unit] & ~raw[name][unit]
            assert int(gained.sum()) == 1  # one synapse given back: the strongest of the unit's living inputs
            revived += 1
    assert revived > 0


def test_settling_follows_a_cascade_to_its_end_in_the_smallest_residual_network() -> None:
    """conv_a's only filter is dead: conv_b reads nothing, so the residual channel's conv_b producer is dead and
    has no living input to take a synapse from, so the channel dies in the stem too, and then the head's
    synapses that read it die: three passes, however few channels the network has."""
    torch.manual_seed(0)
    model = TinyResidual(channels=1, inner=1, outputs=1)
    groups = coupled_channels(model, (1, 8, 8))
    masks = full_masks(model)
    masks["conv_a"][:] = False
    settled = shared_fate(masks, encode(_weights(model), full_masks(model)), groups)
    assert all(not settled[name].any() for name in ("stem", "conv_a", "conv_b", "head"))


def test_a_residual_channel_no_reader_reads_dies_in_every_producer_and_only_it() -> None:
    """Neither the head nor conv_a reads residual channel 1 any more: the stem and conv_b filters writing it die
    (compaction removes it), channel 0 and every reader's other synapses are left as they were."""
    torch.manual_seed(0)
    model = TinyResidual(channels=2, inner=1, outputs=1)
    groups = coupled_channels(model, (1, 8, 8))
    masks = full_masks(model)
    masks["head"][:, 64:] = False  # the head's features of channel 1 (channel-major flatten of 2 x 8 x 8)
    masks["conv_a"][:, 1] = False
    settled = shared_fate(masks, encode(_weights(model), full_masks(model)), groups)
    for producer in ("stem", "conv_b"):
        assert not settled[producer][1].any() and settled[producer][0].all()
    for reader in ("head", "conv_a"):
        assert torch.equal(settled[reader], masks[reader])
