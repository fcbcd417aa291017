"""DetectNet's detections: grid boxes clustered into objects (DIGITS' DetectNet ``cluster`` layer,
OpenCV's ``groupRectangles``), and the precision and recall of the cluster paper's Table 3.

Every cell of class c whose coverage σ(logit) is at least ``threshold``
proposes the box its four distances describe (:mod:`evosynth.tasks.detectnet`).
Two proposals are similar when each of their four edges differs by at most
``eps`` × (min of their widths + min of their heights) / 2; clusters are the
connected groups of similar proposals (OpenCV's ``partition``). A cluster of
``min_cells`` proposals or fewer is dropped (``groupThreshold``), as is a
cluster lying inside a larger, better-supported one, and one lower than
``min_height`` pixels; each remaining cluster is the mean of its proposals,
scored by the summed coverage of its cells (for ranking in AP). DIGITS'
KITTI setting: threshold 0.6, 3 cells, eps 0.02, 22 pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from evosynth.data.kitti import CAR, ImageObjects
from evosynth.tasks.detectnet import cell_centres
from evosynth.tasks.yolo import Detections, box_iou


@dataclass(frozen=True)
class Clustering:
    threshold: float = 0.6  # DIGITS gridbox_cvg_threshold
    min_cells: int = 3  # DIGITS gridbox_rect_thresh (OpenCV groupThreshold)
    eps: float = 0.02  # DIGITS gridbox_rect_eps
    min_height: float = 22.0  # DIGITS min_height, input pixels


def grid_boxes(output: torch.Tensor, stride: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Coverage (C, h, w) in [0, 1] and the box (C, h, w, 4) in input pixels every cell proposes."""
    num_classes = output.shape[0] // 5
    xs, ys = cell_centres(tuple(output.shape[-2:]), stride, output)
    offsets = output[num_classes:].reshape(num_classes, 4, *output.shape[-2:]).permute(0, 2, 3, 1) * stride
    centres = torch.stack([xs, ys, xs, ys], dim=-1)
    return torch.sigmoid(output[:num_classes]), centres + offsets


def _partition(rects: np.ndarray, eps: float) -> np.ndarray:
    """Cluster label of every rect (x, y, w, h): connected components of OpenCV's similarity."""
    x, y, w, h = rects.T
    delta = eps * (np.minimum(w[:, None], w[None]) + np.minimum(h[:, None], h[None])) * 0.5
    similar = (
        (np.abs(x[:, None] - x[None]) <= delta) & (np.abs(y[:, None] - y[None]) <= delta)
        & (np.abs(x[:, None] + w[:, None] - x[None] - w[None]) <= delta)
        & (np.abs(y[:, None] + h[:, None] - y[None] - h[None]) <= delta)
    )
    labels = np.arange(len(rects))
    changed = True
    while changed:  # propagate the smallest label through similar pairs
        spread = np.where(similar, labels[None], len(rects)).min(axis=1)
        changed = bool((spread < labels).any())
        labels = np.minimum(labels, spread)
        labels = labels[labels]
    return labels


def group_rectangles(
    boxes: torch.Tensor, weights: torch.Tensor, min_cells: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """OpenCV's groupRectangles on ``boxes`` (K, 4) ltrb: mean boxes, summed weights, member counts."""
    if len(boxes) == 0:
        return boxes.new_zeros(0, 4), weights.new_zeros(0), torch.zeros(0, dtype=torch.long)
    b = boxes.detach().double().cpu().numpy()
    rects = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    labels = _partition(rects, eps)
    ids = np.unique(labels)
    counts = np.array([(labels == i).sum() for i in ids])
    means = np.stack([b[labels == i].mean(axis=0) for i in ids])
    score = np.array([float(weights[torch.from_numpy(labels == i)].sum()) for i in ids])
    keep = []
    for k in range(len(ids)):
        if counts[k] <= min_cells:
            continue
        r = means[k]
        inside = False
        for j in range(len(ids)):  # a cluster inside a larger, better-supported one is dropped
            if j == k or counts[j] <= min_cells:
                continue
            o = means[j]
            dx, dy = eps * (o[2] - o[0]), eps * (o[3] - o[1])
            if (counts[j] > max(3, counts[k]) and r[0] >= o[0] - dx and r[1] >= o[1] - dy
                    and r[2] <= o[2] + dx and r[3] <= o[3] + dy):
                inside = True
                break
        if not inside:
            keep.append(k)
    keep_t = torch.as_tensor(keep, dtype=torch.long)
    return (torch.as_tensor(means, dtype=boxes.dtype)[keep_t], torch.as_tensor(score, dtype=weights.dtype)[keep_t],
            torch.as_tensor(counts)[keep_t])


def cluster(output: torch.Tensor, stride: float, setting: Clustering = Clustering()) -> Detections:
    """Detections of one image's output (5C, h, w): clustered grid boxes of every class, best first."""
    coverage, boxes = grid_boxes(output.detach(), stride)
    found = []
    for c in range(coverage.shape[0]):
        cells = coverage[c] >= setting.threshold
        means, scores, _ = group_rectangles(boxes[c][cells], coverage[c][cells], setting.min_cells, setting.eps)
        tall = (means[:, 3] - means[:, 1]) >= setting.min_height
        found.append((means[tall], scores[tall], torch.full((int(tall.sum()),), c, dtype=torch.long)))
    all_boxes, all_scores, all_classes = (torch.cat(parts) for parts in zip(*found, strict=True))
    order = torch.sort(all_scores, descending=True, stable=True).indices
    return Detections(all_boxes[order].cpu(), all_scores[order].cpu(), all_classes[order].cpu())


def precision_recall(
    detections: Sequence[Detections], truths: Sequence[ImageObjects], cls: int = 0, label: int = CAR,
    iou: float = 0.7,
) -> tuple[float, float]:
    """Precision and recall of class ``cls`` over all images (DIGITS' mAP layer; cluster paper Table 3).

    Each ground truth of ``label`` takes the best-scored unmatched detection overlapping it by at
    least ``iou``; unmatched detections are false positives, unmatched ground truths misses.
    """
    hits = shown = wanted = 0
    for det, truth in zip(detections, truths, strict=True):
        mine = det.boxes[det.classes == cls].double()
        gt = torch.as_tensor(truth.boxes[truth.labels == label], dtype=torch.float64).reshape(-1, 4)
        shown, wanted = shown + len(mine), wanted + len(gt)
        if len(mine) and len(gt):
            overlap = box_iou(gt, mine)
            free = torch.ones(len(mine), dtype=torch.bool)
            for g in range(len(gt)):
                candidates = torch.nonzero((overlap[g] >= iou) & free).flatten()
                if len(candidates):
                    free[candidates[0]] = False  # detections are sorted best first
                    hits += 1
    return (hits / shown if shown else 0.0), (hits / wanted if wanted else 0.0)
