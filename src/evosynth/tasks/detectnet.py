"""DetectNet's training targets and loss on a grid (NVIDIA DIGITS' DetectNet, Tao et al. 2016;
the cluster paper's KITTI network, §3).

The network (:class:`evosynth.nets.architectures.detectnet.DetectNet`) outputs
(N, 5C, h, w) on a grid of ``stride``-pixel cells: C coverage logits, then
four box channels per class (class c's at 4c … 4c + 3). A cell of class c is
*covered* when its centre lies in the central part of a class-c object: the
box scaled by :data:`COVERAGE_SCALE` about its centre, at least
:data:`MIN_COVERAGE` pixels across (DIGITS' ``scale_cvg`` 0.4 and
``min_cvg_len`` 20); an object too small to cover any cell centre covers
the cell holding its centre. A covered cell regresses the distances from
its centre to the object's left, top, right and bottom edges, in cells
(``stride`` pixels; DIGITS normalises by the image size instead). Where
objects overlap, the nearest (lowest bottom edge in the image, as KITTI's
occluders) owns the cell. KITTI's Van, Person_sitting and DontCare regions
(class :data:`IGNORE_REGION`) are neither rewarded nor punished: their
cells' coverage weight is 0 unless an object covers them.

Loss (DIGITS' ``detectnet_network.prototxt``): the coverage map through a
sigmoid against the targets, squared error / 2 (``coverage_loss``, weight
1), plus the L1 distance of the covered cells' boxes (``bbox_loss``, weight
:data:`BOX_WEIGHT` = 2), each summed over cells and averaged over images.
Boxes are ``left, top, right, bottom`` in network-input pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from evosynth.data.kitti import IGNORE_REGION

COVERAGE_SCALE = 0.4  # DIGITS detectnet: scale_cvg
MIN_COVERAGE = 20.0  # pixels: DIGITS detectnet min_cvg_len
BOX_WEIGHT = 2.0  # DIGITS detectnet: bbox_loss loss_weight


class GridTargets(NamedTuple):
    """Coverage (N, C, h, w) in {0, 1}, its weight (N, C, h, w), boxes (N, 4C, h, w) in cells."""

    coverage: torch.Tensor
    weight: torch.Tensor
    boxes: torch.Tensor


def cell_centres(grid: tuple[int, int], stride: float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (h, w) and y (h, w) of every cell centre in input pixels."""
    h, w = grid
    ys = (torch.arange(h, dtype=like.dtype, device=like.device) + 0.5) * stride
    xs = (torch.arange(w, dtype=like.dtype, device=like.device) + 0.5) * stride
    return xs[None, :].expand(h, w), ys[:, None].expand(h, w)


def coverage_region(box: torch.Tensor) -> torch.Tensor:
    """The covered part of a box: scaled by COVERAGE_SCALE about its centre, at least MIN_COVERAGE across."""
    centre = (box[:2] + box[2:]) / 2
    half = torch.clamp((box[2:] - box[:2]) * COVERAGE_SCALE, min=MIN_COVERAGE) / 2
    half = torch.minimum(half, (box[2:] - box[:2]).clamp(min=0) / 2)  # never beyond the box itself
    return torch.cat([centre - half, centre + half])


def encode_targets(
    boxes: torch.Tensor, classes: torch.Tensor, grid: tuple[int, int], stride: float, num_classes: int
) -> GridTargets:
    """Grid targets of a batch: ``boxes`` (N, M, 4) input pixels, ``classes`` (N, M) (< 0: none or ignore)."""
    n, (h, w) = boxes.shape[0], grid
    coverage = boxes.new_zeros(n, num_classes, h, w)
    weight = boxes.new_ones(n, num_classes, h, w)
    targets = boxes.new_zeros(n, 4 * num_classes, h, w)
    xs, ys = cell_centres(grid, stride, boxes)
    for i in range(n):
        for k in torch.nonzero(classes[i] == IGNORE_REGION).flatten().tolist():
            left, top, right, bottom = boxes[i, k]
            weight[i, :, (xs >= left) & (xs <= right) & (ys >= top) & (ys <= bottom)] = 0.0
        objects = torch.nonzero(classes[i] >= 0).flatten()
        for k in objects[torch.argsort(boxes[i, objects, 3], stable=True)].tolist():  # the nearest last
            c, box = int(classes[i, k]), boxes[i, k]
            left, top, right, bottom = coverage_region(box)
            cells = (xs >= left) & (xs <= right) & (ys >= top) & (ys <= bottom)
            if not cells.any():  # smaller than a cell: the cell holding its centre
                cx, cy = ((box[0] + box[2]) / 2 / stride).long(), ((box[1] + box[3]) / 2 / stride).long()
                cells[cy.clamp(0, h - 1), cx.clamp(0, w - 1)] = True
            coverage[i, :, cells] = 0.0  # a cell belongs to one object
            coverage[i, c, cells] = 1.0
            weight[i, :, cells] = 1.0
            offsets = torch.stack([box[0] - xs, box[1] - ys, box[2] - xs, box[3] - ys]) / stride
            targets[i, 4 * c:4 * c + 4][:, cells] = offsets[:, cells]
    return GridTargets(coverage, weight, targets)


class DetectNetLoss(NamedTuple):
    total: torch.Tensor
    coverage: torch.Tensor
    boxes: torch.Tensor


def detectnet_loss(output: torch.Tensor, boxes: torch.Tensor, classes: torch.Tensor, stride: float) -> DetectNetLoss:
    """DIGITS' DetectNet loss on a batch: coverage squared error / 2 + BOX_WEIGHT × L1 of covered boxes."""
    num_classes = output.shape[1] // 5
    targets = encode_targets(boxes, classes, tuple(output.shape[-2:]), stride, num_classes)
    n = output.shape[0]
    coverage = torch.sigmoid(output[:, :num_classes])
    coverage_loss = ((coverage - targets.coverage) ** 2 * targets.weight).sum() / (2 * n)
    covered = targets.coverage.repeat_interleave(4, dim=1)
    box_loss = ((output[:, num_classes:] - targets.boxes).abs() * covered).sum() / n
    return DetectNetLoss(coverage_loss + BOX_WEIGHT * box_loss, coverage_loss, box_loss)
