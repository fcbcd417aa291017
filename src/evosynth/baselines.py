"""Pruning baselines measured beside evolutionary synthesis (docs/method.md §10).

* Magnitude pruning, Han et al. 2015, "Learning both weights and connections
  for efficient neural networks" (the pruning step of Deep Compression, DC in
  StressedNets Table 1): remove the smallest-|w| synapses, retrain, repeat.
* L1-norm filter pruning, Li et al. 2017, "Pruning filters for efficient
  ConvNets": remove the filters with the smallest sum of |w|, retrain, repeat.
* Group-norm filter pruning, Torch-Pruning's default importance (Fang et al.
  2023, "DepGraph", ``GroupMagnitudeImportance(p=2, group_reduction="mean")``):
  a filter's importance is the squared weights of everything removed with it,
  its own weights and the next layer's weights reading its output.
* Random pruning, the control of the pruning-evaluation studies (Blalock et
  al. 2020, "What is the state of neural network pruning?"; Liu et al. 2019,
  "Rethinking the value of network pruning"): the counts of magnitude pruning,
  the living synapses kept chosen uniformly at random.

Each function here is one pruning step on masks in the ancestor's index space;
the retraining between steps is :func:`evosynth.training.train`. Dead
synapses are never revived: a step only ever turns mask entries off.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from evosynth.nets.masks import Masks, layer_units, prunable_layers, total_synapses


def magnitude_prune(
    model: nn.Module,
    masks: Masks,
    sparsity: float | None = None,
    *,
    keep: int | None = None,
) -> Masks:
    """Keep the ``keep`` living synapses of largest |w| over all layers (global ranking).

    Give either ``sparsity`` (fraction of the ancestor's full synapse count to
    be dead afterwards: ``keep = round((1 - sparsity) · total)``) or ``keep``
    directly, e.g. an evolutionary run's living synapse count at a generation.
    Han et al. 2015 threshold each layer; a global threshold is the usual
    reading when one sparsity is asked for the whole network. Ties in |w| are
    broken by position, so exactly ``keep`` synapses remain.

    The output layer gets no special treatment: a class neuron may lose every
    synapse (it keeps its bias and still counts as living in the architecture
    string), because Han et al. rank every weight alike and protecting some
    would make the baseline something else.
    """
    total = sum(m.numel() for m in masks.values())
    if (sparsity is None) == (keep is None):
        raise ValueError("give exactly one of sparsity and keep")
    if sparsity is not None and not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity {sparsity} is out of range; allowed: 0 <= sparsity <= 1")
    count = keep if sparsity is None else round((1.0 - sparsity) * total)
    living = total_synapses(masks)
    if not 0 <= count <= living:
        raise ValueError(f"cannot keep {count} synapses: {living} are alive and dead ones are never revived")
    layers = prunable_layers(model)
    alive = torch.cat([masks[name].flatten() for name, _ in layers])
    strength = torch.cat([layer.weight.detach().abs().flatten() for _, layer in layers])
    score = torch.where(alive, strength, torch.full_like(strength, -1.0))  # dead rank last
    kept = torch.zeros_like(alive)
    kept[torch.argsort(score, descending=True, stable=True)[:count]] = True
    sizes = [masks[name].numel() for name, _ in layers]
    return {
        name: part.view(masks[name].shape)
        for (name, _), part in zip(layers, torch.split(kept, sizes), strict=True)
    }


def random_prune(masks: Masks, keep: int, seed: int) -> Masks:
    """Keep ``keep`` of the living synapses, chosen uniformly at random (the magnitude baseline's counts).

    The choice is a random permutation of the living synapses from a
    ``torch.Generator`` seeded with ``seed`` (one per chain and generation:
    :func:`evosynth.evolution.synthesis.seed_for`), so the same seed keeps the
    same synapses. Dead synapses are never revived.
    """
    living = total_synapses(masks)
    if not 0 <= keep <= living:
        raise ValueError(f"cannot keep {keep} synapses: {living} are alive and dead ones are never revived")
    names = sorted(masks)
    alive = torch.cat([masks[name].flatten() for name in names])
    where = torch.nonzero(alive).flatten()
    chosen = where[torch.randperm(len(where), generator=torch.Generator().manual_seed(seed))[:keep]]
    kept = torch.zeros_like(alive)
    kept[chosen] = True
    parts = torch.split(kept, [masks[name].numel() for name in names])
    return {name: part.view(masks[name].shape) for name, part in zip(names, parts, strict=True)}


def filter_layers(model: nn.Module) -> list[str]:
    """Layers whose output units may be pruned: every conv and hidden linear layer.

    The last layer's neurons are the classes and are never removed (docs/method.md §7.3).
    """
    return [name for name, _ in prunable_layers(model)[:-1]]


def filter_l1_norms(model: nn.Module, masks: Masks) -> dict[str, torch.Tensor]:
    """Li et al. 2017 §3.1: per filter (conv) or neuron (linear row), the sum of its living |w|."""
    layers = dict(prunable_layers(model))
    return {
        name: (layers[name].weight.detach().abs() * masks[name]).flatten(1).sum(dim=1)
        for name in filter_layers(model)
    }


def living_filters(model: nn.Module, masks: Masks) -> int:
    """Living conv filters (a living synapse in and out): the cost axis of filter pruning."""
    return sum(int(u.outputs.sum()) for u in layer_units(model, masks) if u.kind == "conv")


def filter_group_norms(model: nn.Module, masks: Masks) -> dict[str, torch.Tensor]:
    """Torch-Pruning's group L2 importance of every filter (conv) or neuron (linear row).

    DepGraph groups a filter with the next layer's input channel that reads it;
    ``GroupMagnitudeImportance`` (p = 2, no bias) scores each member by its sum
    of squared weights, per channel (a conv→linear flatten: the channel's block
    of input features, accumulated), and takes the mean over the group's two
    members. Its "mean" normalisation divides a layer by one constant, which
    leaves the per-layer order unchanged, so it is left out. Living weights only.
    """
    layers = prunable_layers(model)
    names = [name for name, _ in layers]
    weights = dict(layers)
    scores = {}
    for name in filter_layers(model):
        own = (weights[name].weight.detach() * masks[name]).pow(2).flatten(1).sum(dim=1)
        following = names[names.index(name) + 1]
        reader = weights[following].weight.detach() * masks[following]
        units = own.numel()
        read = reader.reshape(reader.shape[0], units, -1).pow(2).sum(dim=(0, 2))
        scores[name] = (own + read) / 2
    return scores


#: A filter's importance by criterion (``baselines.<name>.method``).
IMPORTANCE = {"l1_filter": filter_l1_norms, "group_norm": filter_group_norms}


def _prune_order(model: nn.Module, masks: Masks, importance: str = "l1_filter") -> dict[str, torch.Tensor]:
    """Per filter layer, the indices of its living units, least important first (ties by index)."""
    units = {u.name: u.outputs for u in layer_units(model, masks)}
    order = {}
    for name, norms in IMPORTANCE[importance](model, masks).items():
        living = torch.nonzero(units[name]).flatten()
        order[name] = living[torch.argsort(norms[living], stable=True)]
    return order


def _remove_units(model: nn.Module, masks: Masks, removed: Mapping[str, torch.Tensor]) -> Masks:
    """Kill the given units: their incoming synapses and the next layer's synapses reading them.

    Li et al. 2017 §3.1 remove a filter with its feature map and the kernels of
    the next layer that read it; for a conv→linear flatten that is the unit's
    block of input features.
    """
    names = [name for name, _ in prunable_layers(model)]
    out = {name: mask.clone() for name, mask in masks.items()}
    for name, index in removed.items():
        out[name][index] = False
        following = out[names[names.index(name) + 1]]
        units = masks[name].shape[0]
        following.view(following.shape[0], units, -1)[:, index] = False
    return out


def _keep_counts(masks: Masks, layers: list[str], keep_fraction: float) -> dict[str, int]:
    if not 0.0 <= keep_fraction <= 1.0:
        raise ValueError(f"keep fraction {keep_fraction} is out of range; allowed: 0 <= fraction <= 1")
    return {name: max(1, round(keep_fraction * masks[name].shape[0])) for name in layers}


def _apply_keep(
    model: nn.Module, masks: Masks, order: dict[str, torch.Tensor], keep: Mapping[str, int]
) -> Masks:
    removed = {name: order[name][: max(0, len(order[name]) - count)] for name, count in keep.items()}
    return _remove_units(model, masks, removed)


def l1_filter_prune(
    model: nn.Module, masks: Masks, keep: float | Mapping[str, int], importance: str = "l1_filter"
) -> Masks:
    """Li et al. 2017: per layer, remove the living filters with the smallest L1 norms.

    ``keep`` is either a fraction of each layer's filters in the ancestor (the
    same for every layer, rounded, at least one) or a count per layer name
    (layers not named are left alone). A layer that already has no more living
    filters than asked loses none. Norms are taken over living weights before
    any removal: Li et al.'s *independent* per-layer strategy (§3.2); their
    per-layer sensitivity analysis is replaced by one uniform fraction.
    Hidden linear layers are pruned by neuron (rows play the role of filters);
    the output layer's neurons, the classes, never are. ``importance``
    ``group_norm`` ranks by :func:`filter_group_norms` instead of the L1 norm,
    with the same uniform per-layer fraction and shrink steps.
    """
    layers = filter_layers(model)
    if isinstance(keep, Mapping):
        unknown = set(keep) - set(layers)
        if unknown:
            raise ValueError(
                f"cannot prune filters of {sorted(unknown)}; prunable: {layers}"
                " (the output layer's neurons are the classes)"
            )
        if any(count < 1 for count in keep.values()):
            raise ValueError(f"every layer keeps at least one filter, got {dict(keep)}")
        counts = dict(keep)
    else:
        counts = _keep_counts(masks, layers, keep)
    return _apply_keep(model, masks, _prune_order(model, masks, importance), counts)


def l1_keep_fraction(
    model: nn.Module, masks: Masks, target_synapses: int, steps: int = 40, importance: str = "l1_filter"
) -> float:
    """The keep fraction whose :func:`l1_filter_prune` leaves about ``target_synapses`` synapses.

    Lets the filter baseline step through an evolutionary run's synapse counts,
    generation by generation. The count left is non-decreasing in the fraction
    (kept filters are nested), so bisection finds the two fractions around the
    target; the one whose count is nearer wins (the larger on a tie).
    """
    layers = filter_layers(model)
    order = _prune_order(model, masks, importance)

    def synapses(fraction: float) -> int:
        pruned = _apply_keep(model, masks, order, _keep_counts(masks, layers, fraction))
        return total_synapses(pruned)

    low, high = 0.0, 1.0
    if synapses(high) <= target_synapses:
        return high
    if synapses(low) >= target_synapses:
        return low
    for _ in range(steps):
        middle = (low + high) / 2
        if synapses(middle) >= target_synapses:
            high = middle
        else:
            low = middle
    return high if synapses(high) - target_synapses <= target_synapses - synapses(low) else low
