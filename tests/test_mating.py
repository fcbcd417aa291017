"""Sexual synthesis (sexual paper eq. 3–5): mating two parents, choosing them."""

import pytest
import torch

from evosynth.evolution.encoding import encode, encode_clusters
from evosynth.evolution.environment import Environment
from evosynth.evolution.mating import MatingWeights, choose_parents, mate
from evosynth.evolution.synthesis import synthesize_clustered


def _parent(seed):
    g = torch.Generator().manual_seed(seed)
    weights = {"conv": torch.randn(6, 3, 3, 3, generator=g), "fc": torch.randn(10, 24, generator=g)}
    masks = {n: torch.rand(w.shape, generator=g) > 0.4 for n, w in weights.items()}
    return weights, masks


def test_alpha_one_beta_zero_reproduces_asexual_synthesis_from_parent_a():
    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    mated = mate(wa, ma, wb, mb, MatingWeights(1.0, 0.0, 1.0, 0.0), "filter", 0.1)
    env = Environment(factor=0.7, cluster_factor=0.8)
    asexual = synthesize_clustered(encode(wa, ma), encode_clusters(wa, ma, "filter", 0.1), "filter", env, 5)[0]
    sexual = synthesize_clustered(
        encode(mated.weights, mated.masks),
        encode_clusters(mated.weights, mated.masks, "filter", 0.1, mated.cluster_strengths),
        "filter", env, 5,
    )[0]
    assert all(torch.equal(asexual[n], sexual[n]) for n in asexual)


def test_mating_never_revives_a_synapse_dead_in_both_parents():
    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    mated = mate(wa, ma, wb, mb, MatingWeights(), "kernel", 0.1)
    for name in ma:
        dead_in_both = ~ma[name] & ~mb[name]
        assert not mated.masks[name][dead_in_both].any()
        assert (mated.weights[name][dead_in_both] == 0).all()
        assert torch.equal(mated.masks[name], ma[name] | mb[name])


def test_mated_strengths_follow_eq_4_and_5():
    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    m = MatingWeights(0.3, 0.7, 0.6, 0.4)
    mated = mate(wa, ma, wb, mb, m, "filter", 0.0)
    expected = 0.6 * wa["fc"] * ma["fc"] + 0.4 * wb["fc"] * mb["fc"]
    assert torch.allclose(mated.weights["fc"], expected)
    sa = (wa["fc"].abs() * ma["fc"]).sum(1)
    sb = (wb["fc"].abs() * mb["fc"]).sum(1)
    assert torch.allclose(mated.cluster_strengths["fc"], 0.3 * sa + 0.7 * sb)


def test_random_pairs_are_distinct_and_cover_the_pool():
    pairs = {choose_parents([0.9, 0.8, 0.7, 0.6], "random", 0.01, s) for s in range(200)}
    assert all(a != b for a, b in pairs)
    assert {i for p in pairs for i in p} == {0, 1, 2, 3}


def test_fitness_choice_favours_accurate_parents():
    picks = [choose_parents([0.90, 0.60, 0.89, 0.50], "fitness", 0.01, s) for s in range(100)]
    assert all(set(p) == {0, 2} for p in picks)


def test_the_lone_ancestor_mates_with_itself_and_an_empty_pool_is_refused():
    assert choose_parents([0.9], "random", 0.01, 0) == (0, 0)
    with pytest.raises(ValueError, match="empty"):
        choose_parents([], "fitness", 0.01, 0)
