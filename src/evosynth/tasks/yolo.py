"""YOLOv2 detection: boxes, targets, loss, decoding and NMS (Redmon & Farhadi 2017).

StressedNets §4.1.3 evolves YOLOv2 on KITTI. A YOLOv2 head outputs
(N, A·(5+C), H, W): for each of A anchors, in this channel order,
``tx, ty, tw, th, to`` and C class logits (darknet's region layer). A cell
(cx, cy) with anchor (pw, ph), both in grid cells, predicts (YOLOv2 §2,
"Direct location prediction")::

    bx = σ(tx) + cx    by = σ(ty) + cy    bw = pw·e^tw    bh = ph·e^th
    Pr(object)·IoU = σ(to)    Pr(class | object) = softmax(class logits)

Boxes outside this module's internals are ``left, top, right, bottom`` in
network-input pixels. Class targets: ≥ 0 an object of that class, -1
background/padding, :data:`IGNORE_REGION` a region where a prediction is
neither rewarded nor punished (KITTI's Van, Person_sitting, DontCare). Every
function is pure torch and runs on the device of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from evosynth.data.kitti import (
    IGNORE_REGION,  # class target of a region with no target and no no-object penalty
)

#: Default anchors (width, height) in cells of the stride-32 grid, for KITTI's
#: 1242×375 frames squashed to a square input: about 15×40 and 35×90 px
#: pedestrians, 50×30, 100×60 and 250×150 px cars in the original image
#: (a cell spans 1242/13 ≈ 96 by 375/13 ≈ 29 original pixels). Rough shapes,
#: not clusters: :func:`anchor_clusters` computes YOLOv2's k-means anchors from data.
KITTI_ANCHORS = ((0.16, 1.4), (0.37, 3.1), (0.52, 1.04), (1.05, 2.1), (2.6, 5.2))


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


# -------------------------------------------------------------------- boxes
def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in ``a`` (…, N, 4) with every box in ``b`` (…, M, 4): (…, N, M)."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    ratio = inter / union.clamp(min=torch.finfo(inter.dtype).tiny)
    return torch.where(union > 0, ratio, torch.zeros_like(inter))


def wh_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of box shapes (N, 2) and (M, 2) placed on a common centre: (N, M)."""
    inter = torch.minimum(a[:, None], b[None]).prod(-1)
    return inter / (a.prod(-1)[:, None] + b.prod(-1)[None] - inter)


def anchor_clusters(wh: torch.Tensor, k: int = 5, iterations: int = 100, seed: int = 0) -> torch.Tensor:
    """YOLOv2's dimension clusters (§2): k-means on box shapes with distance 1 − IoU.

    ``wh`` (N, 2) in any unit (grid cells for anchors); returns (k, 2) in that
    unit, sorted by area.
    """
    if len(wh) < k:
        raise ValueError(f"need at least k={k} boxes, got {len(wh)}")
    generator = torch.Generator().manual_seed(seed)
    centres = wh[torch.randperm(len(wh), generator=generator)[:k].to(wh.device)].clone()
    for _ in range(iterations):
        nearest = wh_iou(wh, centres).argmax(1)
        updated = centres.clone()
        for c in range(k):
            if (nearest == c).any():
                updated[c] = wh[nearest == c].mean(0)
        if torch.allclose(updated, centres):
            break
        centres = updated
    return centres[centres.prod(-1).argsort()]


# ------------------------------------------------------------------ outputs
class HeadOutput(NamedTuple):
    """A YOLOv2 head output split per anchor, each (N, A, H, W, …)."""

    xy: torch.Tensor  # tx, ty logits (…, 2)
    wh: torch.Tensor  # tw, th (…, 2)
    objectness: torch.Tensor  # to logits (N, A, H, W)
    classes: torch.Tensor  # class logits (…, C)


def split_output(output: torch.Tensor, num_anchors: int) -> HeadOutput:
    """Split (N, A·(5+C), H, W) into its per-anchor terms."""
    n, channels, h, w = output.shape
    if channels % num_anchors or channels // num_anchors < 6:
        raise ValueError(f"{channels} output channels are not A·(5+C) for A={num_anchors} anchors and C ≥ 1")
    p = output.view(n, num_anchors, channels // num_anchors, h, w).permute(0, 1, 3, 4, 2)
    return HeadOutput(p[..., 0:2], p[..., 2:4], p[..., 4], p[..., 5:])


def _grid(output: torch.Tensor, image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell corners (H, W, 2) in grid units and the stride (x, y) in pixels."""
    h, w = output.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=output.device, dtype=output.dtype),
        torch.arange(w, device=output.device, dtype=output.dtype),
        indexing="ij",
    )
    stride = torch.tensor([image_size[1] / w, image_size[0] / h], device=output.device, dtype=output.dtype)
    return torch.stack([xs, ys], -1), stride


def decode_boxes(
    output: torch.Tensor, anchors: torch.Tensor | tuple, image_size: int | tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Boxes (N, A, H, W, 4) in input pixels, objectness σ(to) and class probabilities (YOLOv2 §2)."""
    anchors = torch.as_tensor(anchors, dtype=output.dtype, device=output.device)
    p = split_output(output, len(anchors))
    cells, stride = _grid(output, _pair(image_size))
    centre = (torch.sigmoid(p.xy) + cells) * stride
    size = anchors[None, :, None, None, :] * torch.exp(p.wh) * stride
    boxes = torch.cat([centre - size / 2, centre + size / 2], -1)
    return boxes, torch.sigmoid(p.objectness), torch.softmax(p.classes, -1)


# ------------------------------------------------------------------ targets
class Targets(NamedTuple):
    """Training targets on the (N, A, H, W) predictions; only ``responsible`` entries are meaningful."""

    responsible: torch.Tensor  # bool: the anchor of the cell holding a ground-truth centre
    xy: torch.Tensor  # (…, 2) the centre's offset in its cell, the target of σ(tx), σ(ty)
    wh: torch.Tensor  # (…, 2) log(box / anchor), the target of tw, th
    classes: torch.Tensor  # int64, -1 where not responsible
    boxes: torch.Tensor  # (…, 4) the ground-truth box in input pixels
    weight: torch.Tensor  # 2 − w·h (box area as a fraction of the image): darknet's small-box boost


def encode_targets(
    boxes: torch.Tensor,
    classes: torch.Tensor,
    anchors: torch.Tensor | tuple,
    grid: tuple[int, int],
    image_size: int | tuple[int, int],
) -> Targets:
    """Assign each ground truth (``classes`` ≥ 0) to the cell holding its centre and its best-shaped anchor.

    ``boxes`` (N, M, 4) in input pixels, ``classes`` (N, M); ``grid`` = (H, W).
    The anchor is the one whose shape has the largest IoU with the box
    (YOLOv2, as YOLOv1 §2.2); when two boxes fall on one cell and anchor the
    later one wins, as in darknet.
    """
    height, width = _pair(image_size)
    gh, gw = grid
    device, dtype = boxes.device, boxes.dtype if boxes.is_floating_point() else torch.float32
    anchors = torch.as_tensor(anchors, dtype=dtype, device=device)
    n, a = boxes.shape[0], len(anchors)
    shape = (n, a, gh, gw)
    out = Targets(
        torch.zeros(shape, dtype=torch.bool, device=device),
        torch.zeros(shape + (2,), dtype=dtype, device=device),
        torch.zeros(shape + (2,), dtype=dtype, device=device),
        torch.full(shape, -1, dtype=torch.long, device=device),
        torch.zeros(shape + (4,), dtype=dtype, device=device),
        torch.zeros(shape, dtype=dtype, device=device),
    )
    stride = torch.tensor([width / gw, height / gh], dtype=dtype, device=device)
    box = boxes.to(dtype).reshape(-1, 4)
    size = (box[:, 2:] - box[:, :2]) / stride
    valid = (classes.reshape(-1) >= 0) & (size > 0).all(-1)
    if not valid.any():
        return out
    image = torch.arange(n, device=device).repeat_interleave(boxes.shape[1])[valid]
    box, size, cls = box[valid], size[valid], classes.reshape(-1)[valid].long()
    centre = (box[:, :2] + box[:, 2:]) / 2 / stride
    cell = centre.floor().long()
    cell[:, 0].clamp_(0, gw - 1)
    cell[:, 1].clamp_(0, gh - 1)
    best = wh_iou(size, anchors).argmax(1)
    key = ((image * a + best) * gh + cell[:, 1]) * gw + cell[:, 0]
    unique, inverse = torch.unique(key, return_inverse=True)
    order = torch.arange(len(key), device=device)
    last = torch.full((len(unique),), -1, dtype=torch.long, device=device).scatter_reduce(
        0, inverse, order, reduce="amax"
    )
    image, best, cell, box, size, cls, centre = (t[last] for t in (image, best, cell, box, size, cls, centre))
    at = (image, best, cell[:, 1], cell[:, 0])
    out.responsible[at] = True
    out.xy[at] = centre - cell.to(dtype)
    out.wh[at] = torch.log(size / anchors[best])
    out.classes[at] = cls
    out.boxes[at] = box
    out.weight[at] = 2.0 - size.prod(-1) / (gh * gw)
    return out


# --------------------------------------------------------------------- loss
@dataclass(frozen=True)
class LossScales:
    """Darknet's yolo-voc.cfg region-layer scales: coord 1, object 5, noobject 1, class 1."""

    box: float = 1.0
    objectness: float = 5.0
    no_object: float = 1.0
    classes: float = 1.0


class LossTerms(NamedTuple):
    """The YOLOv2 loss and its terms, each summed over the batch and divided by its size."""

    total: torch.Tensor
    box: torch.Tensor
    objectness: torch.Tensor
    no_object: torch.Tensor
    classes: torch.Tensor


def yolo_loss(
    output: torch.Tensor,
    boxes: torch.Tensor,
    classes: torch.Tensor,
    anchors: torch.Tensor | tuple = KITTI_ANCHORS,
    image_size: int | tuple[int, int] = 416,
    scales: LossScales = LossScales(),
    ignore_threshold: float = 0.6,
    rescore: bool = True,
) -> LossTerms:
    """YOLOv2's region loss (Redmon & Farhadi 2017; darknet ``region_layer.c``).

    For the anchor responsible for a ground truth: squared error of σ(tx), σ(ty)
    against the centre's offset and of tw, th against log(box/anchor), weighted
    by 2 − w·h; squared error of σ(to) against the IoU of the predicted box with
    the ground truth (``rescore``; 1 otherwise); cross-entropy of the class
    logits. Every other prediction: squared error of σ(to) against 0, unless its
    box overlaps some ground truth or ignore region with IoU > ``ignore_threshold``.
    (Darknet's warm-up term pulling early predictions to the anchors is left out.)
    """
    anchors = torch.as_tensor(anchors, dtype=output.dtype, device=output.device)
    size = _pair(image_size)
    p = split_output(output, len(anchors))
    t = encode_targets(boxes, classes, anchors, tuple(output.shape[-2:]), size)
    predicted, _, _ = decode_boxes(output, anchors, size)
    n = output.shape[0]
    with torch.no_grad():
        regions = boxes.to(output.dtype)
        present = (classes >= 0) | (classes == IGNORE_REGION)
        present &= (regions[..., 2:] > regions[..., :2]).all(-1)
        overlap = box_iou(predicted.reshape(n, -1, 4), regions) * present[:, None, :]
        best = overlap.amax(-1) if overlap.shape[-1] else overlap.new_zeros(overlap.shape[:2])
        quiet = ~t.responsible & (best.view(t.responsible.shape) <= ignore_threshold)
    objectness = torch.sigmoid(p.objectness)
    r = t.responsible
    if rescore:
        with torch.no_grad():
            target = box_iou(predicted[r].unsqueeze(1), t.boxes[r].unsqueeze(1)).view(-1)
    else:
        target = torch.ones_like(objectness[r])
    box = scales.box * (
        t.weight[r] * (((torch.sigmoid(p.xy[r]) - t.xy[r]) ** 2).sum(-1) + ((p.wh[r] - t.wh[r]) ** 2).sum(-1))
    ).sum()
    obj = scales.objectness * ((objectness[r] - target) ** 2).sum()
    no_obj = scales.no_object * (objectness[quiet] ** 2).sum()
    cls = scales.classes * F.cross_entropy(p.classes[r], t.classes[r], reduction="sum")
    terms = [box / n, obj / n, no_obj / n, cls / n]
    return LossTerms(sum(terms), *terms)


# ---------------------------------------------------------------- decoding
class Detections(NamedTuple):
    """Scored boxes of one image: boxes (D, 4), scores (D,), class ids (D,), by decreasing score."""

    boxes: torch.Tensor
    scores: torch.Tensor
    classes: torch.Tensor


def non_max_suppression(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, classes: torch.Tensor | None = None
) -> torch.Tensor:
    """Greedy NMS: indices of the kept boxes by decreasing score; with ``classes``, per class."""
    order = torch.sort(scores, descending=True, stable=True).indices
    if len(order) == 0:
        return order
    suppress = box_iou(boxes[order], boxes[order]) > iou_threshold
    if classes is not None:
        suppress &= classes[order][:, None] == classes[order][None, :]
    suppress = suppress.cpu().numpy()
    removed = np.zeros(len(order), dtype=bool)
    kept = []
    for i in range(len(order)):
        if not removed[i]:
            kept.append(i)
            removed |= suppress[i]
    return order[torch.as_tensor(kept, dtype=torch.long, device=order.device)]


def decode(
    output: torch.Tensor,
    anchors: torch.Tensor | tuple = KITTI_ANCHORS,
    image_size: int | tuple[int, int] = 416,
    score_threshold: float = 0.005,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
    pre_nms: int = 1000,
) -> list[Detections]:
    """Scored boxes per image: score = σ(to)·softmax(class), each class of each box a candidate,
    the ``pre_nms`` best above ``score_threshold`` kept, per-class NMS, at most ``max_detections``.
    Boxes are clipped to the input image.
    """
    height, width = _pair(image_size)
    boxes, objectness, probabilities = decode_boxes(output, anchors, (height, width))
    n, num_classes = output.shape[0], probabilities.shape[-1]
    limit = boxes.new_tensor([width, height, width, height])
    boxes = torch.minimum(boxes.clamp(min=0), limit).reshape(n, -1, 4)
    scores = (objectness.unsqueeze(-1) * probabilities).reshape(n, -1, num_classes)
    results = []
    for i in range(n):
        where, cls = torch.nonzero(scores[i] > score_threshold, as_tuple=True)
        s = scores[i][where, cls]
        top = torch.sort(s, descending=True, stable=True).indices[:pre_nms]
        where, cls, s = where[top], cls[top], s[top]
        keep = non_max_suppression(boxes[i][where], s, iou_threshold, cls)[:max_detections]
        results.append(Detections(boxes[i][where[keep]], s[keep], cls[keep]))
    return results
