"""Pruning baselines: global magnitude pruning (Han et al. 2015), L1-norm filter pruning (Li et al. 2017)."""

import pytest
import torch

from evosynth.analysis.metrics import architecture_of
from evosynth.baselines import (
    filter_l1_norms,
    l1_filter_prune,
    l1_keep_fraction,
    living_filters,
    magnitude_prune,
    random_prune,
)
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact
from evosynth.nets.masks import full_masks, layer_units


def count(masks):
    return sum(int(m.sum()) for m in masks.values())


@pytest.fixture
def model():
    torch.manual_seed(0)
    return LeNet5()


@pytest.fixture
def half_dead(model):
    generator = torch.Generator().manual_seed(1)
    return {name: torch.rand(m.shape, generator=generator) < 0.5 for name, m in full_masks(model).items()}


def strengths(model, masks, kept):
    """|w| of the kept synapses and of the living synapses that were removed."""
    kept_w, removed_w = [], []
    for name, layer in model.named_modules():
        if name in masks:
            w = layer.weight.detach().abs()
            kept_w.append(w[kept[name]])
            removed_w.append(w[masks[name] & ~kept[name]])
    return torch.cat(kept_w), torch.cat(removed_w)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_magnitude_prune_leaves_exactly_the_asked_count(model, sparsity):
    masks = full_masks(model)
    assert count(magnitude_prune(model, masks, sparsity)) == round((1 - sparsity) * 430_500)


def test_magnitude_prune_removes_the_smallest_weights_globally(model):
    masks = full_masks(model)
    pruned = magnitude_prune(model, masks, keep=20_000)
    kept, removed = strengths(model, masks, pruned)
    assert len(kept) == 20_000 and kept.min() >= removed.max()
    # global, not per layer: the layers lose different fractions
    fractions = {name: pruned[name].float().mean().item() for name in pruned}
    assert max(fractions.values()) - min(fractions.values()) > 0.05


def test_magnitude_prune_never_revives(model, half_dead):
    living = count(half_dead)
    pruned = magnitude_prune(model, half_dead, 0.8)
    assert count(pruned) == round(0.2 * 430_500)
    assert all(not (pruned[n] & ~half_dead[n]).any() for n in pruned)
    kept, removed = strengths(model, half_dead, pruned)
    assert kept.min() >= removed.max()
    with pytest.raises(ValueError, match="never revived"):
        magnitude_prune(model, half_dead, keep=living + 1)


def test_magnitude_prune_breaks_ties_to_the_exact_count(model):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    assert count(magnitude_prune(model, full_masks(model), keep=12_345)) == 12_345


def test_magnitude_prune_wants_one_target(model):
    with pytest.raises(ValueError, match="exactly one"):
        magnitude_prune(model, full_masks(model))
    with pytest.raises(ValueError, match="out of range"):
        magnitude_prune(model, full_masks(model), 1.5)


def test_l1_prune_removes_the_filters_with_smallest_norms(model):
    masks = full_masks(model)
    with torch.no_grad():  # conv1 filter o has L1 norm 25·scale[o], a known order
        scale = torch.randperm(20, generator=torch.Generator().manual_seed(2)).float() + 1
        model.conv1.weight.copy_(scale.view(20, 1, 1, 1).expand(20, 1, 5, 5))
    pruned = l1_filter_prune(model, masks, {"conv1": 5, "fc1": 100})
    survivors = pruned["conv1"].flatten(1).any(1)
    assert torch.equal(survivors, scale > 15)  # the five largest norms, 16..20
    norms = filter_l1_norms(model, masks)["fc1"]
    alive = pruned["fc1"].any(1)
    assert int(alive.sum()) == 100 and norms[alive].min() >= norms[~alive].max()
    # Li et al.: the removed feature maps' kernels in the next layer go too
    assert not pruned["conv2"][:, ~survivors].any() and pruned["conv2"][:, survivors].all()
    assert not pruned["fc2"][:, ~alive].any()
    assert architecture_of(compact(model, pruned, (1, 28, 28)).model) == "5-50-800-100"


def test_l1_prune_keeps_every_class_neuron(model):
    pruned = l1_filter_prune(model, full_masks(model), 0.1)
    assert pruned["fc2"].any(dim=1).all()
    assert layer_units(model, pruned)[-1].outputs.all()
    with pytest.raises(ValueError, match="classes"):
        l1_filter_prune(model, full_masks(model), {"fc2": 5})


def test_l1_prune_keeps_at_least_one_filter_per_layer(model):
    pruned = l1_filter_prune(model, full_masks(model), 0.0)
    assert architecture_of(compact(model, pruned, (1, 28, 28)).model) == "1-1-16-1"
    assert living_filters(model, pruned) == 2
    with pytest.raises(ValueError, match="at least one"):
        l1_filter_prune(model, full_masks(model), {"conv2": 0})


def test_l1_prune_never_revives_and_ignores_dead_filters(model):
    masks = full_masks(model)
    masks["conv1"][:12] = False  # 8 conv1 filters left
    pruned = l1_filter_prune(model, masks, 0.5)  # keep 10 of 20: nothing to remove in conv1
    assert all(not (pruned[n] & ~masks[n]).any() for n in pruned)
    assert int(layer_units(model, pruned)[0].outputs.sum()) == 8
    assert architecture_of(compact(model, pruned, (1, 28, 28)).model) == "8-25-400-250"


def test_l1_keep_fraction_reaches_the_nearest_count(model):
    masks = full_masks(model)
    target = 100_000
    reached = count(l1_filter_prune(model, masks, l1_keep_fraction(model, masks, target)))
    grid = [count(l1_filter_prune(model, masks, f / 20)) for f in range(21)]
    assert abs(reached - target) <= min(abs(c - target) for c in grid)
    exact = count(l1_filter_prune(model, masks, 0.5))
    assert count(l1_filter_prune(model, masks, l1_keep_fraction(model, masks, exact))) == exact
    assert l1_keep_fraction(model, masks, 10**9) == 1.0


# --- group-norm filter pruning (Torch-Pruning's GroupMagnitudeImportance, p = 2, mean over the group) ---


def test_group_norm_is_the_mean_of_a_filters_and_its_readers_squared_weights():
    from evosynth.baselines import filter_group_norms

    torch.manual_seed(0)
    net = LeNet5()
    masks = full_masks(net)
    masks["conv2"][3, 0, 0, 0] = False  # a dead synapse does not count
    norms = filter_group_norms(net, masks)
    w1, w2, f1 = net.conv1.weight.detach(), net.conv2.weight.detach() * masks["conv2"], net.fc1.weight.detach()
    assert norms["conv1"][4].item() == pytest.approx(((w1[4] ** 2).sum() + (w2[:, 4] ** 2).sum()).item() / 2)
    # conv2 -> fc1 through the flatten: filter 7 is read by its 4x4 block of fc1's inputs
    block = f1.view(500, 50, 16)[:, 7]
    assert norms["conv2"][7].item() == pytest.approx(((w2[7] ** 2).sum() + (block ** 2).sum()).item() / 2)
    assert set(norms) == {"conv1", "conv2", "fc1"}  # the class neurons are never ranked


def test_group_norm_prune_ranks_by_the_group_not_by_the_filter_alone():
    """A filter with small own weights whose output the next layer reads strongly survives under group norm."""
    torch.manual_seed(0)
    net = LeNet5()
    masks = full_masks(net)
    with torch.no_grad():
        net.conv1.weight[2] *= 0.01       # the smallest L1 norm in conv1 ...
        net.conv2.weight[:, 2] *= 100.0   # ... but conv2 leans on it
    keep = {"conv1": 19}
    by_l1 = l1_filter_prune(net, masks, keep)
    by_group = l1_filter_prune(net, masks, keep, importance="group_norm")
    assert not by_l1["conv1"][2].any() and by_group["conv1"][2].all()
    assert count(by_group) == count(by_l1)  # the same step: one filter of conv1
    fraction = l1_keep_fraction(net, masks, 200_000, importance="group_norm")
    assert abs(count(l1_filter_prune(net, masks, fraction, importance="group_norm")) - 200_000) < 20_000


def test_random_prune_keeps_exactly_the_asked_count_and_never_revives(model, half_dead):
    kept = random_prune(half_dead, 12_345, seed=7)
    assert count(kept) == 12_345
    assert all(not (kept[name] & ~half_dead[name]).any() for name in kept)
    assert count(random_prune(half_dead, count(half_dead), seed=7)) == count(half_dead)
    assert count(random_prune(half_dead, 0, seed=7)) == 0


def test_random_prune_is_reproducible_with_the_seed_and_differs_between_seeds(half_dead):
    first, again, other = (random_prune(half_dead, 5_000, seed=s) for s in (3, 3, 4))
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert any(not torch.equal(first[name], other[name]) for name in first)


def test_random_prune_ignores_the_weights_and_spreads_over_layers(model):
    """Uniform over living synapses: every layer keeps about the same fraction, whatever its |w|."""
    masks = full_masks(model)
    kept = random_prune(masks, 43_050, seed=0)
    fractions = {name: kept[name].float().mean().item() for name in kept}
    assert all(abs(f - 0.1) < 0.03 for f in fractions.values()), fractions
    magnitude = magnitude_prune(model, masks, keep=43_050)
    assert any(not torch.equal(kept[name], magnitude[name]) for name in kept)


def test_random_prune_refuses_to_revive(half_dead):
    with pytest.raises(ValueError, match="never revived"):
        random_prune(half_dead, count(half_dead) + 1, seed=0)
