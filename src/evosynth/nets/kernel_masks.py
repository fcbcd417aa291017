"""Fixed kernel masks: a conv layer that keeps exactly k of its kernels, whole kernels only.

A *kernel* is W[o, i, :, :], the k×k synapses of filter o on input channel
i (the cluster paper's cluster). The capacity probe's kernel-sparse networks
(docs/method.md §13.7) keep a chosen number of one layer's kernels and train
under that mask from scratch (:class:`evosynth.training.MaskedOptimizer`
keeps the dead ones at zero), so a network can have a target's kernel count
at wider conv widths than the dense network with that count.

The draw keeps the layer's widths real: every filter keeps at least one
kernel and every input channel feeds at least one (no unit dies, so
compaction removes nothing and the network is as wide as it was built). It
needs ``max(out, in) <= kept <= out·in``.
"""

from __future__ import annotations

import torch
from torch import nn

from evosynth.nets.layers import Masks, full_masks, prunable_layers


def random_kernel_mask(out_channels: int, in_channels: int, kept: int, generator: torch.Generator) -> torch.Tensor:
    """A bool [out, in] mask with exactly ``kept`` True entries, every row and every column covered.

    The cover: with both index lists in random order, filter ``j mod out`` reads channel ``j mod in`` for
    j < max(out, in) (distinct pairs: two j < max(out, in) agree on both residues only if they differ by a
    multiple of lcm(out, in) >= max(out, in)). The other ``kept − max(out, in)`` kernels are drawn uniformly,
    without replacement, from the rest.
    """
    cover = max(out_channels, in_channels)
    if not cover <= kept <= out_channels * in_channels:
        raise ValueError(f"a {out_channels}x{in_channels} layer keeps between {cover} and"
                         f" {out_channels * in_channels} kernels with every filter and channel alive, not {kept}")
    rows, cols = torch.randperm(out_channels, generator=generator), torch.randperm(in_channels, generator=generator)
    mask = torch.zeros(out_channels, in_channels, dtype=torch.bool)
    j = torch.arange(cover)
    mask[rows[j % out_channels], cols[j % in_channels]] = True
    rest = (~mask).flatten().nonzero().flatten()
    chosen = rest[torch.randperm(rest.numel(), generator=generator)[: kept - cover]]
    mask.view(-1)[chosen] = True
    return mask


def kernel_sparse_masks(model: nn.Module, layer: str, kept: int, seed: int) -> Masks:
    """Masks of ``model`` dense everywhere but conv ``layer``, which keeps exactly ``kept`` whole kernels
    (:func:`random_kernel_mask`, drawn with ``seed``)."""
    masks = full_masks(model)
    conv = dict(prunable_layers(model)).get(layer)
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"{layer!r} is not a conv layer of the model")
    out_channels, in_channels = conv.weight.shape[:2]  # in_channels per group
    kernels = random_kernel_mask(out_channels, in_channels, kept, torch.Generator().manual_seed(seed))
    masks[layer] = kernels[:, :, None, None].expand_as(masks[layer]).clone()
    return masks
