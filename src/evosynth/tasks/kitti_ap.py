"""KITTI 2-D object detection AP, following the devkit's ``evaluate_object.cpp``.

Difficulties (StressedNets footnotes 2-4; devkit ``MIN_HEIGHT``,
``MAX_OCCLUSION``, ``MAX_TRUNCATION``): a ground truth counts at a difficulty
when its box is at least ``min_height`` pixels high, its occlusion level at
most ``max_occlusion`` and its truncation at most ``max_truncation``.

Matching, per image and class (devkit ``cleanData``/``computeStatistics``):

- ground truths of the class that fail the difficulty, and ground truths of
  the neighbour class (Van for Car, Person_sitting for Pedestrian), are
  *ignored*: a detection matched to one is neither TP nor FP, the ground truth
  is no FN; other classes are not ground truths at all;
- detections lower than the difficulty's min height are ignored likewise
  (the devkit truncates their height to an integer first);
- each ground truth, in file order, takes the unassigned detection with the
  largest IoU above the class's threshold (0.7 car, 0.5 pedestrian; strictly
  greater), preferring non-ignored detections;
- unassigned detections covering a DontCare region (intersection over the
  detection's area above the threshold) are not false positives.

Recall is TP / (TP + FN) and precision TP / (TP + FP) at each score threshold;
the interpolated precision at recall r is the largest precision at recall ≥ r.
AP averages it over 40 recall points 1/40 … 1 (``R40``, the benchmark's metric
since 2019, Simonelli et al. 2019, and the **default**) or 11 points 0, 0.1 … 1
(``R11``, the original metric that StressedNets' Table 3 used).

Detections (:class:`evosynth.tasks.yolo.Detections`, tensors or numpy arrays)
are in the original image's pixels (``KittiSplit.to_original``).

``sampling="exact"`` (default) evaluates every detection score, so recall
points are exact. ``sampling="devkit"`` copies the devkit's shortcut: at most
41 score thresholds chosen by ``getThresholds`` from the true positives'
scores, and precision read by threshold index; it agrees with ``exact`` when
there are many ground truths and differs on small sets (one of two cars found:
devkit R40 = 0, exact R40 = 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np

from evosynth.data.kitti import CLASSES, DONT_CARE, NEIGHBOUR, ImageObjects
from evosynth.tasks.yolo import Detections


@dataclass(frozen=True)
class Difficulty:
    min_height: float  # pixels, in the original image
    max_occlusion: int  # 0 fully visible, 1 partly occluded, 2 difficult to see
    max_truncation: float


DIFFICULTIES = {
    "easy": Difficulty(40, 0, 0.15),
    "moderate": Difficulty(25, 1, 0.30),
    "hard": Difficulty(25, 2, 0.50),
}
#: The devkit's ``MIN_OVERLAP`` for 2-D boxes, by class id.
MIN_OVERLAP = {0: 0.7, 1: 0.5}


def _numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def passes_difficulty(
    heights: np.ndarray, occlusion: np.ndarray, truncation: np.ndarray, difficulty: str
) -> np.ndarray:
    """True where a ground truth counts at ``difficulty`` (boundary values included)."""
    d = DIFFICULTIES[difficulty]
    return (
        (np.asarray(heights) >= d.min_height)
        & (np.asarray(occlusion) <= d.max_occlusion)
        & (np.asarray(truncation) <= d.max_truncation)
    )


def box_overlap(a: np.ndarray, b: np.ndarray, criterion: str = "union") -> np.ndarray:
    """Pairwise overlap (len(a) × len(b)) of boxes: IoU, or intersection over the area of ``a``.

    No +1 pixel, as the devkit's ``boxoverlap`` (``criterion`` -1 and 0).
    """
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    if criterion == "a":
        denominator = np.broadcast_to(area_a, inter.shape)
    else:
        area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
        denominator = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / denominator, 0.0)


class _Image(NamedTuple):
    """One image prepared for one class and difficulty (devkit ``cleanData``)."""

    gt_state: np.ndarray  # per ground truth: 0 counted, 1 ignored, -1 not evaluated
    det_state: np.ndarray  # per detection: 0 counted, 1 ignored (too small), -1 other class
    scores: np.ndarray
    iou: np.ndarray  # ground truths × detections
    in_dont_care: np.ndarray  # per detection


def _clean(truth: ImageObjects, det: Detections, cls: int, difficulty: str) -> _Image:
    labels = np.asarray(truth.labels)
    boxes = np.asarray(truth.boxes, dtype=np.float64).reshape(-1, 4)
    counted = passes_difficulty(boxes[:, 3] - boxes[:, 1], truth.occlusion, truth.truncation, difficulty)
    gt_state = np.full(len(labels), -1)
    gt_state[(labels == cls) | (labels == NEIGHBOUR[cls])] = 1
    gt_state[(labels == cls) & counted] = 0
    det_boxes = _numpy(det.boxes).reshape(-1, 4)
    classes = _numpy(det.classes, np.int64).reshape(-1)
    heights = np.trunc(np.abs(det_boxes[:, 3] - det_boxes[:, 1]))  # the devkit's int32_t height
    det_state = np.where(classes == cls, 0, -1)
    det_state[heights < DIFFICULTIES[difficulty].min_height] = 1  # any class, as the devkit
    threshold = MIN_OVERLAP[cls]
    dont_care = boxes[labels == DONT_CARE]
    in_dont_care = (box_overlap(det_boxes, dont_care, "a") > threshold).any(axis=1)
    scores = _numpy(det.scores).reshape(-1)
    return _Image(gt_state, det_state, scores, box_overlap(boxes, det_boxes), in_dont_care)


def _statistics(image: _Image, threshold: float, eligible: np.ndarray) -> tuple[int, int, int]:
    """TP, FP, FN of one image with the ``eligible`` detections (devkit ``computeStatistics``)."""
    assigned = np.zeros(len(image.scores), dtype=bool)
    usable = eligible & (image.det_state != -1)
    tp = fn = 0
    for g, state in enumerate(image.gt_state):
        if state == -1:
            continue
        candidates = usable & ~assigned & (image.iou[g] > threshold)
        counted = candidates & (image.det_state == 0)
        if counted.any():
            j = int(np.argmax(np.where(counted, image.iou[g], -1.0)))
        elif candidates.any():
            j = int(np.argmax(candidates))
        else:
            fn += state == 0
            continue
        assigned[j] = True
        if state == 0 and image.det_state[j] == 0:
            tp += 1
    fp = int((eligible & (image.det_state == 0) & ~assigned & ~image.in_dont_care).sum())
    return tp, fp, int(fn)


def _tp_scores(image: _Image, threshold: float) -> list[float]:
    """True positives' scores when each ground truth takes its best-scored match (devkit's first pass)."""
    assigned = np.zeros(len(image.scores), dtype=bool)
    out = []
    for g, state in enumerate(image.gt_state):
        if state == -1:
            continue
        candidates = (image.det_state != -1) & ~assigned & (image.iou[g] > threshold)
        if not candidates.any():
            continue
        j = int(np.argmax(np.where(candidates, image.scores, -np.inf)))
        assigned[j] = True
        if state == 0 and image.det_state[j] == 0:
            out.append(float(image.scores[j]))
    return out


def _devkit_thresholds(scores: list[float], n_gt: int, points: int = 41) -> list[float]:
    """The devkit's ``getThresholds``: scores that step recall by about 1/40."""
    v = sorted(scores, reverse=True)
    chosen, current = [], 0.0
    for i, score in enumerate(v):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(v) - 1 else left
        if right - current < current - left and i < len(v) - 1:
            continue
        chosen.append(score)
        current += 1.0 / (points - 1.0)
    return chosen


def precision_recall(
    detections: Sequence[Detections],
    truths: Sequence[ImageObjects],
    cls: int,
    difficulty: str,
    sampling: str = "exact",
) -> tuple[np.ndarray, np.ndarray, int]:
    """Precision and recall at each evaluated score threshold (descending), and the counted ground truths."""
    if len(detections) != len(truths):
        raise ValueError(f"{len(detections)} detection sets for {len(truths)} images")
    threshold = MIN_OVERLAP[cls]
    images = [_clean(t, d, cls, difficulty) for t, d in zip(truths, detections)]
    n_gt = int(sum((im.gt_state == 0).sum() for im in images))
    if sampling == "devkit":
        tp_scores = [s for im in images for s in _tp_scores(im, threshold)]
        thresholds = np.asarray(_devkit_thresholds(tp_scores, n_gt) if n_gt else [])
    elif sampling == "exact":
        levels = [im.scores[im.det_state != -1] for im in images]
        thresholds = np.unique(np.concatenate(levels + [np.zeros(0)]))[::-1]
    else:
        raise ValueError(f"sampling must be 'exact' or 'devkit', got {sampling!r}")
    # An image's statistics change only at its own detection scores: accumulate the changes.
    # A detection overlapping no ground truth above the threshold is never assigned, so it is a
    # false positive (or ignored) on its own; only the others need the matching replayed.
    events_score, events_delta = [], []
    base = np.zeros(3)
    for im in images:
        near = (im.iou[im.gt_state != -1] > threshold).any(axis=0) & (im.det_state != -1)
        lone_fp = ~near & (im.det_state == 0) & ~im.in_dont_care
        events_score.extend(im.scores[lone_fp])
        events_delta.extend([np.array([0.0, 1.0, 0.0])] * int(lone_fp.sum()))
        previous = np.asarray(_statistics(im, threshold, np.zeros(len(im.scores), dtype=bool)), dtype=float)
        base += previous
        for level in np.unique(im.scores[near])[::-1]:
            current = np.asarray(_statistics(im, threshold, near & (im.scores >= level)), dtype=float)
            if (current != previous).any():
                events_score.append(level)
                events_delta.append(current - previous)
            previous = current
    order = np.argsort(-np.asarray(events_score, dtype=float), kind="stable")
    scores = np.asarray(events_score, dtype=float)[order]
    cumulative = np.cumsum(np.asarray(events_delta, dtype=float).reshape(-1, 3)[order], axis=0)
    count = np.searchsorted(-scores, -thresholds, side="right")  # events with score >= threshold
    stats = base + np.vstack([np.zeros((1, 3)), cumulative])[count]
    tp, fp, fn = stats[:, 0], stats[:, 1], stats[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    return precision, recall, n_gt


def average_precision(
    detections: Sequence[Detections],
    truths: Sequence[ImageObjects],
    cls: int,
    difficulty: str,
    points: int = 40,
    sampling: str = "exact",
) -> float:
    """KITTI AP of class ``cls`` at ``difficulty``, in [0, 1]; NaN when no ground truth counts.

    ``points`` = 40 (R40, default) or 11 (R11). ``detections[i]`` and
    ``truths[i]`` describe the same image, both in original pixels.
    """
    if points not in (11, 40):
        raise ValueError(f"points must be 40 (R40) or 11 (R11), got {points}")
    precision, recall, n_gt = precision_recall(detections, truths, cls, difficulty, sampling)
    if n_gt == 0:
        return float("nan")
    if sampling == "devkit":
        curve = np.zeros(41)
        curve[: len(precision)] = precision
        curve = np.maximum.accumulate(curve[::-1])[::-1]
        return float(curve[1:].sum() / 40 if points == 40 else curve[::4].sum() / 11)
    steps = np.arange(1, 41) / 40 if points == 40 else np.arange(11) / 10
    interpolated = [precision[recall >= r - 1e-12].max(initial=0.0) for r in steps]
    return float(np.mean(interpolated))


def kitti_ap(
    detections: Sequence[Detections],
    truths: Sequence[ImageObjects],
    points: int = 40,
    sampling: str = "exact",
) -> dict[str, float]:
    """AP of car and pedestrian at each difficulty: ``{"ap_car_easy": ..., "ap_pedestrian_hard": ...}``."""
    return {
        f"ap_{name.lower()}_{difficulty}": average_precision(
            detections, truths, cls, difficulty, points, sampling
        )
        for cls, name in enumerate(CLASSES)
        for difficulty in DIFFICULTIES
    }
