"""EvoNet eq. 1: P(s|w) = exp(|w|/Z − 1) with layer-wise Z over living synapses."""

import math

import torch

from evosynth.evolution.encoding import encode, synapse_probability


def test_probability_at_zero_and_at_z():
    w = torch.tensor([0.0, 0.5, -2.0, 1.0])
    p = synapse_probability(w, torch.ones(4, dtype=torch.bool))
    assert math.isclose(p[0].item(), math.exp(-1), rel_tol=1e-6)  # |w| = 0, living: e^-1
    assert math.isclose(p[2].item(), 1.0, rel_tol=1e-6)  # |w| = Z = 2 (a negative weight)
    assert math.isclose(p[1].item(), math.exp(0.25 - 1), rel_tol=1e-6)


def test_dead_synapses_have_zero_probability_and_do_not_set_z():
    w = torch.tensor([10.0, 1.0, 0.5])
    mask = torch.tensor([False, True, True])
    p = synapse_probability(w, mask)
    assert p[0] == 0
    assert math.isclose(p[1].item(), 1.0, rel_tol=1e-6)  # Z = 1, the largest living |w|


def test_monotone_in_magnitude_and_never_above_one():
    torch.manual_seed(0)
    w = torch.randn(1000) * 3 - 1  # mostly negative: a signed max would give P > 1
    p = synapse_probability(w, torch.ones_like(w, dtype=torch.bool))
    order = w.abs().argsort()
    assert (p[order].diff() >= 0).all()
    assert p.max() <= 1.0 and p.min() >= math.exp(-1) - 1e-7


def test_known_wrong_readings_differ():
    """P = exp(|w|/Z − 1) with Z the largest living |w|, worked by hand on a layer where the known wrong readings
    give other values: exp(|w|/Z) − 1 (0 at w = 0), Z = the signed max (1, so P(−3) = e² > 1), Z over every weight
    (the stale dead 6.0: P(−3) = e^−0.5), and the sign kept (P(−3) = e^−2)."""
    w = torch.tensor([0.0, -3.0, 1.0, 6.0])
    mask = torch.tensor([True, True, True, False])
    p = synapse_probability(w, mask)
    by_hand = torch.tensor([math.exp(-1.0), 1.0, math.exp(1 / 3 - 1), 0.0])
    assert torch.allclose(p, by_hand, rtol=1e-6, atol=0)


def test_layer_with_no_living_synapse_is_all_zero():
    p = synapse_probability(torch.randn(3, 4), torch.zeros(3, 4, dtype=torch.bool))
    assert (p == 0).all()


def test_encode_is_layer_wise():
    weights = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([100.0, 50.0])}
    masks = {k: torch.ones(2, dtype=torch.bool) for k in weights}
    genome = encode(weights, masks)
    assert torch.allclose(genome["a"], genome["b"].flip(0))  # same relative strengths


def test_living_synapses_all_at_zero_get_e_to_the_minus_one():
    p = synapse_probability(torch.zeros(2, 3), torch.tensor([[True, False, True], [False, False, True]]))
    e = math.exp(-1.0)
    assert torch.allclose(p, torch.tensor([[e, 0.0, e], [0.0, 0.0, e]]))


def test_an_unknown_cluster_kind_is_refused_with_the_allowed_ones():
    import pytest

    from evosynth.evolution.encoding import clusters_of

    with pytest.raises(ValueError, match=r"^unknown cluster kind 'row'; allowed: kernel, filter$"):
        clusters_of(torch.zeros(2, 3), "row")
