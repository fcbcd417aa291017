"""Synthesis of offspring: environmental factor models and random mutation.

EvoNet eq. 2–4: the synthesis probability P(H_g) = F(E)·P(S_g|W_{g−1}); a
synapse exists in the offspring iff P ≥ U(0, 1). ``literal`` mode takes the
product as printed. The papers define F as the expected ratio of synapses
child/parent, which the literal product does not give, so the default
``budget`` mode calibrates one scale s (bisection, probabilities clipped to 1)
such that Σ min(1, s·P_i) = F · (living synapses of the parent).
"""

from __future__ import annotations

import numpy as np
import torch

from evosynth.masks import Masks

MODES = ("budget", "literal")


def calibrate_scale(probabilities: list[torch.Tensor], target: float, iterations: int = 80) -> float:
    """The scale s with Σ min(1, s·p) = target over all ``probabilities`` (bisection)."""
    flat = torch.cat([p.flatten().double() for p in probabilities])
    flat = flat[flat > 0]
    if target <= 0 or flat.numel() == 0:
        return 0.0
    ones = float(1.0 / flat.min()) * (1 + 2**-20)  # just above: every probability clips to 1
    if target >= flat.numel():
        return ones
    lo, hi = 0.0, ones
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if float(torch.clamp(mid * flat, max=1.0).sum()) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def environmental_factor(
    genome: dict[str, torch.Tensor], factor: float, mode: str = "budget"
) -> tuple[dict[str, torch.Tensor], float]:
    """Synthesis probabilities F(E)·P(s|w) and the scale applied to P.

    ``budget``: the scale is calibrated so the expected number of synapses in
    the child is ``factor`` × the parent's living synapses. ``literal``: the
    scale is ``factor`` itself (EvoNet eq. 3, P(H_g) = C·P(S_g|W_{g−1})).
    """
    if not 0 < factor <= 1:
        raise ValueError(f"environmental factor must lie in (0, 1], got {factor}")
    if mode == "literal":
        scale = factor
    elif mode == "budget":
        living = sum(int((p > 0).sum()) for p in genome.values())
        scale = calibrate_scale(list(genome.values()), factor * living)
    else:
        raise ValueError(f"unknown environment mode {mode!r}; allowed: {', '.join(MODES)}")
    return {name: torch.clamp(scale * p, max=1.0) for name, p in genome.items()}, scale


def seed_for(seed: int, generation: int, stream: str) -> int:
    """A 63-bit seed, independent per (experiment seed, generation, purpose)."""
    words = [seed, generation, *stream.encode()]
    return int(np.random.SeedSequence(words).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)


def sample_mask(probabilities: dict[str, torch.Tensor], seed: int) -> Masks:
    """EvoNet eq. 4: synapse k exists iff P(s_k) > U(0, 1); P = 0 never survives."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.rand(p.shape, generator=generator, dtype=torch.float64) < p.double()
        for name, p in sorted(probabilities.items())
    }
