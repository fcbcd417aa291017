"""StressedNets eq. 6 and 8 worked by hand: w ← β·w where q = exp(|w|/z − 1) < U, U from the run's generator.

β = 0.8, so a weakened synapse reads 0.8·w and never (1 − β)·w = 0.2·w; the layer holds a stale dead
weight ten times its strongest living one, so z (eq. 8's normaliser) over every weight instead of
the living ones changes which synapses are drawn.
"""

import math

import torch
from torch import nn

from evosynth.evolution.stress import stress

BETA = 0.8


def _net():
    """Two linear layers; layer 0 has a dead synapse whose weight (10.0) was left non-zero."""
    g = torch.Generator().manual_seed(3)
    model = nn.Sequential(nn.Linear(30, 20, bias=False), nn.Linear(20, 5, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(20, 30, generator=g).clamp(-0.95, 0.95))
        model[0].weight[0, 0] = 1.0  # the strongest living synapse: q = 1, never weakened
        model[0].weight[1, 1] = 10.0  # stale: dead in the mask below
        model[1].weight.copy_(torch.randn(5, 20, generator=g))
    masks = {"0": torch.rand(20, 30, generator=g) < 0.7, "1": torch.ones(5, 20, dtype=torch.bool)}
    masks["0"][0, 0], masks["0"][1, 1] = True, False
    return model, masks


def _by_hand(model, masks, seed):
    """Eq. 6 and 8 with z the largest living |w| per layer and U drawn layer by layer from the seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    expected, counts = {}, {}
    for name in ("0", "1"):
        w, living = model.get_submodule(name).weight.detach().clone(), masks[name]
        z = max(abs(float(v)) for v in w[living])
        q = torch.where(living, torch.exp(w.abs() / z - 1.0), torch.zeros_like(w))
        u = torch.rand(w.shape, generator=generator)
        weakened = living & (q < u)
        expected[name] = torch.where(weakened, BETA * w, w)
        counts[name] = int(weakened.sum())
    return expected, counts


def test_weakened_synapses_are_beta_times_w_drawn_with_z_over_living_weights():
    for seed in range(3):
        model, masks = _net()
        expected, counts = _by_hand(model, masks, seed)
        got = stress(model, masks, BETA, torch.Generator().manual_seed(seed))
        assert got == counts and counts["0"] > 0 and counts["1"] > 0
        for name, weight in expected.items():
            assert torch.allclose(model.get_submodule(name).weight, weight, rtol=0, atol=1e-7), (seed, name)
        assert model[0].weight[1, 1] == 10.0  # the stale dead weight is neither drawn nor touched


def test_the_strongest_living_synapse_is_never_weakened_despite_a_stronger_dead_weight():
    """q = exp(1/1 − 1) = 1 for the strongest living synapse: no U in [0, 1) lies above it."""
    hits = 0
    for seed in range(60):
        model, masks = _net()
        stress(model, masks, BETA, torch.Generator().manual_seed(seed))
        assert model[0].weight[0, 0] == 1.0, seed
        hits += int((model[0].weight != _net()[0][0].weight).sum())
    # with z = 10 (the dead weight) every living q would be ≤ exp(0.1 − 1) ≈ 0.41: most synapses hit
    living = int(_net()[1]["0"].sum())
    assert hits / 60 < 0.75 * living


def test_the_draw_uses_only_the_given_generator():
    """Reseeding or consuming the global RNG between calls changes nothing; the generator's seed does."""
    results = []
    for global_seed in (0, 12345):
        torch.manual_seed(global_seed)
        torch.rand(1000)
        model, masks = _net()
        counts = stress(model, masks, BETA, torch.Generator().manual_seed(7))
        results.append((counts, model[0].weight.detach().clone(), model[1].weight.detach().clone()))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1]) and torch.equal(results[0][2], results[1][2])
    model, masks = _net()
    stress(model, masks, BETA, torch.Generator().manual_seed(8))
    assert not torch.equal(model[0].weight, results[0][1])


def test_the_generator_advances_so_consecutive_epochs_draw_afresh():
    """One generator through two epochs: the second call draws new numbers (eq. 6 at every epoch t)."""
    model, masks = _net()
    generator = torch.Generator().manual_seed(5)
    stress(model, masks, BETA, generator)
    after_one = model[0].weight.detach().clone()
    state = torch.Generator().manual_seed(5)
    torch.rand(20, 30, generator=state)
    torch.rand(5, 20, generator=state)
    z = float(after_one[masks["0"]].abs().max())
    q = torch.where(masks["0"], torch.exp(after_one.abs() / z - 1.0), torch.zeros_like(after_one))
    weakened = masks["0"] & (q < torch.rand(20, 30, generator=state))
    stress(model, masks, BETA, generator)
    assert torch.allclose(model[0].weight, torch.where(weakened, BETA * after_one, after_one), rtol=0, atol=1e-7)
    assert math.isclose(model[0].weight[0, 0].item(), 1.0)
