"""Saliency metrics and loss of the EvoNet paper (Sec. III, Tables 1–2): MAE and Fβ with β² = 0.3.

A network for saliency outputs (N, 2, H, W) logits (EvoNet: "fed into a
softmax layer to produce final segmentation result"); the saliency map is the
softmax probability of class 1 (salient), in [0, 1].  Masks are binary
(N, 1, H, W) or (N, H, W), 0 = background, 1 = salient.  Metrics are computed
at the prepared resolution (S×S), not at each image's original size.

- MAE = mean over images of mean_pixels |S − G| (Perazzi et al. 2012; EvoNet's MAE).
- Fβ = (1 + β²)·P·R / (β²·P + R) with β² = 0.3 (Achanta et al. 2009), the
  weighting EvoNet takes from Li & Yu [25].  EvoNet does not say how it
  thresholds; it compares its Fβ with the scores of [25] (0.865 on MSRA-B,
  0.8 on HKU-IS), and [25] reports precision, recall and F-measure at the
  adaptive threshold of Achanta et al. (twice the mean saliency).  So the
  headline is the *adaptive* Fβ: each map is binarised at
  T = min(2 × mean(S), 1) (pixels with S ≥ T are salient; an all-zero map has
  T = 0 and nothing salient), precision and recall are averaged over images
  and Fβ is computed from the two averages.
- max-Fβ (reported alongside, as in later saliency papers): maps quantised to
  q = round(255·S), binarised as q > t for the 256 thresholds t = 0..255;
  precision and recall averaged over images per threshold; the best Fβ.

Precision of an empty prediction and recall of an empty mask are 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from evosynth.data.saliency import SaliencyData, load_prepared_saliency
from evosynth.tasks.base import Objective, Task
from evosynth.tasks.kinds import SALIENCY

BETA2 = 0.3  # EvoNet Sec. III, after Li & Yu [25]
THRESHOLDS = 256


class SaliencyScores(NamedTuple):
    mae: float
    f_beta: float  # adaptive threshold: the EvoNet paper's Fβ (the headline)
    precision: float  # at the adaptive threshold, mean over images
    recall: float
    max_f_beta: float  # best over 256 fixed thresholds


def _flat(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps and masks as float (N, pixels); a single map (H, W) counts as N = 1."""
    maps = maps.detach().float()
    masks = masks.detach()
    if maps.dim() == 2:
        maps, masks = maps[None], masks.reshape(1, *masks.shape[-2:])
    n = maps.shape[0]
    maps, masks = maps.reshape(n, -1), masks.reshape(n, -1).float()
    if maps.shape != masks.shape:
        raise ValueError(f"saliency maps {tuple(maps.shape)} and masks {tuple(masks.shape)} differ in size")
    if maps.numel() and (maps.min() < 0 or maps.max() > 1):
        raise ValueError("saliency maps must lie in [0, 1]")
    return maps, (masks > 0.5).float()


def f_beta(precision: torch.Tensor | float, recall: torch.Tensor | float,
           beta2: float = BETA2) -> torch.Tensor:
    """Fβ = (1 + β²)·P·R / (β²·P + R), 0 where P = R = 0."""
    p, r = torch.as_tensor(precision, dtype=torch.float64), torch.as_tensor(recall, dtype=torch.float64)
    denominator = beta2 * p + r
    value = (1 + beta2) * p * r / denominator.clamp_min(1e-300)
    return torch.where(denominator > 0, value, torch.zeros_like(p))


def _precision_recall(predicted: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image precision and recall of binary predictions (..., N, pixels) against masks (N, pixels)."""
    hits = (predicted * masks).sum(-1)
    chosen, salient = predicted.sum(-1), masks.sum(-1)
    precision = torch.where(chosen > 0, hits / chosen.clamp_min(1), torch.zeros_like(hits))
    recall = torch.where(salient > 0, hits / salient.clamp_min(1), torch.zeros_like(hits))
    return precision.double(), recall.double()


def mae(maps: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean absolute error between saliency maps in [0, 1] and binary masks, averaged over images."""
    maps, masks = _flat(maps, masks)
    return float((maps - masks).abs().mean(dim=1).double().mean())


def adaptive_f_beta(maps: torch.Tensor, masks: torch.Tensor,
                    beta2: float = BETA2) -> tuple[float, float, float]:
    """(Fβ, precision, recall) at each map's adaptive threshold T = min(2·mean(S), 1) (Li & Yu [25])."""
    maps, masks = _flat(maps, masks)
    threshold = (2 * maps.mean(dim=1, keepdim=True)).clamp(max=1.0)
    predicted = ((maps >= threshold) & (threshold > 0)).float()
    precision, recall = _precision_recall(predicted, masks)
    p, r = precision.mean(), recall.mean()
    return float(f_beta(p, r, beta2)), float(p), float(r)


def _count_above(histogram: torch.Tensor) -> torch.Tensor:
    """From per-image histograms (N, 256) of values 0..255, the counts of values > t for t = 0..255."""
    at_least = histogram.flip(1).cumsum(1).flip(1)  # column v: values >= v
    return torch.cat([at_least[:, 1:], torch.zeros_like(at_least[:, :1])], dim=1)


def f_beta_curve(maps: torch.Tensor, masks: torch.Tensor,
                 beta2: float = BETA2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Fβ, precision, recall), each of shape (256,), for thresholds t = 0..255 on round(255·S) > t."""
    maps, masks = _flat(maps, masks)
    n = maps.shape[0]
    # Histograms of the quantised values per image, of all pixels and of salient ones; the pixels
    # chosen at threshold t are those with a value above t: a reversed cumulative sum.
    index = (torch.arange(n)[:, None] * THRESHOLDS + torch.round(maps * 255).long()).reshape(-1)
    every = torch.bincount(index, minlength=n * THRESHOLDS).reshape(n, THRESHOLDS).double()
    inside = torch.bincount(index, weights=masks.reshape(-1).double(),
                            minlength=n * THRESHOLDS).reshape(n, THRESHOLDS)
    chosen, hits = _count_above(every).T, _count_above(inside).T
    salient = masks.sum(-1).double()
    precision = torch.where(chosen > 0, hits / chosen.clamp_min(1), torch.zeros_like(hits)).mean(dim=1)
    recall = torch.where(salient > 0, hits / salient.clamp_min(1), torch.zeros_like(hits)).mean(dim=1)
    return f_beta(precision, recall, beta2), precision, recall


def max_f_beta(maps: torch.Tensor, masks: torch.Tensor, beta2: float = BETA2) -> float:
    """The best Fβ over 256 thresholds (precision and recall averaged over images per threshold)."""
    return float(f_beta_curve(maps, masks, beta2)[0].max())


def saliency_scores(maps: torch.Tensor, masks: torch.Tensor) -> SaliencyScores:
    """MAE, adaptive Fβ (headline) with its precision and recall, and max-Fβ of a set of maps."""
    f, p, r = adaptive_f_beta(maps, masks)
    return SaliencyScores(mae(maps, masks), f, p, r, max_f_beta(maps, masks))


# ------------------------------------------------------------ networks
def _fit(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if logits.dim() != 4 or logits.shape[1] != 2:
        raise ValueError(f"saliency logits must be (N, 2, H, W), got {tuple(logits.shape)}")
    if tuple(logits.shape[-2:]) != size:  # a coarser output is upsampled to the mask, as in DSS
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits


def saliency_map(logits: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """The saliency map (N, H, W) in [0, 1]: softmax probability of the salient class, at ``size``."""
    return torch.softmax(_fit(logits, size or tuple(logits.shape[-2:])), dim=1)[:, 1]


def saliency_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy of (N, 2, H, W) logits against binary masks (N, 1, H, W) or (N, H, W)."""
    target = masks.reshape(masks.shape[0], *masks.shape[-2:]).long()
    return F.cross_entropy(_fit(logits, tuple(target.shape[-2:])), target)


@torch.no_grad()
def evaluate_saliency(model: nn.Module, images: torch.Tensor, masks: torch.Tensor,
                      batch_size: int = 16) -> SaliencyScores:
    """Scores of ``model`` (outputting (N, 2, H, W) logits) on normalised images and their masks."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    maps = torch.cat([
        saliency_map(model(images[i:i + batch_size].to(device)), tuple(masks.shape[-2:])).cpu()
        for i in range(0, len(images), batch_size)
    ])
    model.train(was_training)
    return saliency_scores(maps, masks)


class Saliency(Task):
    """EvoNet's saliency network on MSRA-B (trained) and HKU-IS (tested) (EvoNet §III, Tables I–II)."""

    name, headline = SALIENCY, "f_beta"
    batch_size = 16

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        s = load_prepared_saliency(path, train_size, test_size, seed)
        return SaliencyData(s.x_train, s.y_train, s.x_test, s.y_test)

    def objective(self, data: Any) -> Objective:
        return Objective(saliency_loss)

    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        s = evaluate_saliency(model.to(device), data.x_test, data.y_test, self.batch_size)
        return {"accuracy": s.f_beta, "task": self.name, "headline": self.headline, "mae": s.mae,
                "f_beta": s.f_beta, "precision": s.precision, "recall": s.recall, "max_f_beta": s.max_f_beta}
