"""Sexual synthesis (sexual paper eq. 3–5): mating two parents, choosing them."""

import math

import pytest
import torch
from conftest import record

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


def test_unequal_mating_weights_apply_eq_4_and_5_and_average_the_parents_sizes_with_them():
    """α_s = 0.3, β_s = 0.7 (eq. 5) and α_c = 0.8, β_c = 0.4 (eq. 4): the mated weights, the cluster strengths and
    "the parent's" size (synapses with the synapse weights, clusters with the cluster weights) by hand."""
    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    mb["conv"][2] = False  # a filter dead in B only: B counts one cluster fewer
    mated = mate(wa, ma, wb, mb, MatingWeights(alpha_c=0.8, beta_c=0.4, alpha_s=0.3, beta_s=0.7), "filter", 0.0)
    for name in ma:
        assert torch.allclose(mated.weights[name], 0.3 * wa[name] * ma[name] + 0.7 * wb[name] * mb[name])
        by_hand = 0.8 * (wa[name].abs() * ma[name]).flatten(1).sum(1) + 0.4 * (wb[name].abs() * mb[name]).flatten(1).sum(1)
        assert torch.allclose(mated.cluster_strengths[name], by_hand)
    synapses = [sum(int(m.sum()) for m in p.values()) for p in (ma, mb)]
    clusters = [sum(int(m.flatten(1).any(1).sum()) for m in p.values()) for p in (ma, mb)]
    assert synapses[0] != synapses[1] and clusters == [16, 15]
    assert mated.parent_synapses == pytest.approx((0.3 * synapses[0] + 0.7 * synapses[1]) / 1.0)
    assert mated.parent_clusters == pytest.approx((0.8 * clusters[0] + 0.4 * clusters[1]) / 1.2)


def test_zero_synapse_weights_mate_nothing_and_count_no_parent():
    """α_s = β_s = 0: no synapse is inherited and "the parent" has no synapses (no division by α_s + β_s = 0)."""
    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    mated = mate(wa, ma, wb, mb, MatingWeights(alpha_c=0.5, beta_c=0.5, alpha_s=0.0, beta_s=0.0), "filter", 0.1)
    assert mated.parent_synapses == 0.0 and mated.parent_clusters > 0
    assert not any(m.any() for m in mated.masks.values())


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
    with pytest.raises(ValueError, match="^the pool of parents is empty$"):
        choose_parents([], "fitness", 0.01, 0)
    with pytest.raises(ValueError, match=r"^unknown parent choice 'best'; allowed: random, fitness$"):
        choose_parents([0.9, 0.8], "best", 0.01, 0)


def test_parent_choice_draws_from_its_own_seed_only():
    """The pair depends on the seed and nothing else: reseeding or consuming the global RNG changes nothing."""
    pools = {"random": [0.9, 0.8, 0.7, 0.6, 0.5], "fitness": [0.90, 0.89, 0.88, 0.87, 0.86]}
    for how, pool in pools.items():
        picks = []
        for global_seed in (0, 99):
            torch.manual_seed(global_seed)
            torch.rand(100)
            picks.append([choose_parents(pool, how, 0.01, s) for s in range(20)])
        assert picks[0] == picks[1] and len(set(picks[0])) > 3, how


def test_fitness_choice_resolves_differences_finer_than_float32_and_survives_a_tiny_temperature():
    """exp((acc − best)/T) in float64: accuracies 1e-9 apart at T = 1e-9 weigh e⁻², e⁻¹, 1 (float32 would
    round them equal); at T = 0.001 the subtraction of the best keeps exp from overflowing."""
    close = [0.9, 0.9 + 1e-9, 0.9 + 2e-9]
    firsts = [choose_parents(close, "fitness", 1e-9, s)[0] for s in range(300)]
    share = [firsts.count(k) / 300 for k in range(3)]
    weights = [math.exp(-2), math.exp(-1), 1.0]
    for k in range(3):
        assert abs(share[k] - weights[k] / sum(weights)) < 0.07, share
    picks = [choose_parents([0.9, 0.5, 0.89, 0.3], "fitness", 0.001, s) for s in range(20)]
    assert all(set(p) == {0, 2} for p in picks)


def _lenet_parent(tmp_path, seed, accuracy):
    from evosynth.artifacts import save_checkpoint, write_json
    from evosynth.nets.architectures import build_model
    from evosynth.nets.masks import apply_masks, full_masks

    torch.manual_seed(seed)
    model = build_model("lenet5", (1, 28, 28), 10)
    g = torch.Generator().manual_seed(seed)
    masks = {n: torch.rand(m.shape, generator=g) > 0.5 for n, m in full_masks(model).items()}
    masks["conv2"][seed::7] = False  # some dead filters: their biases are masked
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)  # non-zero biases
    apply_masks(model, masks)
    path = tmp_path / f"parent{seed}.pt"
    save_checkpoint(path, "model", {"state_dict": model.state_dict(), "masks": masks, "architecture": "lenet5",
                                    "input_shape": (1, 28, 28), "num_classes": 10, "experiment": "x"})
    write_json(tmp_path / f"metrics{seed}.json", {"accuracy": accuracy})
    record(path)
    record(tmp_path / f"metrics{seed}.json")
    return path, tmp_path / f"metrics{seed}.json", model.state_dict(), masks


def test_offspring_inherits_mated_weights_and_blended_biases(tmp_path):
    """Encode → synthesize as the pipeline runs them: living synapses carry α_s·w_A + β_s·w_B (eq. 5),

    biases (which eq. 5 does not name) α_s·b_A + β_s·b_B, for a unit that lives in the child.
    """
    from evosynth.artifacts import load_checkpoint
    from evosynth.pipeline.steps.encode import run_encode
    from evosynth.pipeline.steps.synthesize import run_synthesize

    exp = {"method": "sexual", "seed": 0, "init": "inherit", "encoding": {"clusters": "filter", "truncation": 0.1},
           "population": {"size": 2, "parents": "random", "temperature": 0.01},
           "mating": {"alpha_c": 0.5, "beta_c": 0.5, "alpha_s": 0.3, "beta_s": 0.7},
           "environment": {"factor": 0.7, "cluster_factor": 0.85}}
    params = {"experiments": {"x": exp}}
    parents = [_lenet_parent(tmp_path, s, 0.5 + s / 10) for s in (1, 2)]
    (tmp_path / "enc").mkdir()
    chosen = run_encode(params, "x", 1, [p[0] for p in parents], tmp_path / "enc", [p[1] for p in parents], 0)
    order = [next(p for p in parents if str(p[0]) == c) for c in chosen["parents"]]
    (_, _, sa, ma), (_, _, sb, mb) = order
    genome = load_checkpoint(tmp_path / "enc" / "genome.pt", "genome")
    for name in ma:
        mated = 0.3 * sa[f"{name}.weight"] * ma[name] + 0.7 * sb[f"{name}.weight"] * mb[name]
        assert torch.allclose(genome["state_dict"][f"{name}.weight"], mated)
        assert torch.allclose(genome["state_dict"][f"{name}.bias"], 0.3 * sa[f"{name}.bias"] + 0.7 * sb[f"{name}.bias"])
        assert torch.equal(genome["masks"][name], ma[name] | mb[name])
    (tmp_path / "syn").mkdir()
    run_synthesize(params, "x", 1, tmp_path / "enc" / "genome.pt", tmp_path / "syn", 0)
    child = load_checkpoint(next((tmp_path / "syn").glob("*.pt")), "offspring")
    for name in ma:
        living = child["masks"][name]
        weight = child["state_dict"][f"{name}.weight"]
        assert torch.equal(weight[living], genome["state_dict"][f"{name}.weight"][living])
        units = living.flatten(1).any(1)
        assert units.any()
        bias = child["state_dict"][f"{name}.bias"]
        assert torch.allclose(bias[units], genome["state_dict"][f"{name}.bias"][units])
        assert (bias[~units] == 0).all()


def test_parent_sized_budget_refers_to_the_parents_not_their_union():
    """A mated genome holds the union of both parents: F (and F_c) are rescaled by parent size / union size."""
    from evosynth.evolution.environment import parent_sized

    (wa, ma), (wb, mb) = _parent(0), _parent(1)
    mated = mate(wa, ma, wb, mb, MatingWeights(), "filter", 0.1)
    genome = {"synapses": encode(mated.weights, mated.masks),
              "clusters": encode_clusters(mated.weights, mated.masks, "filter", 0.1, mated.cluster_strengths),
              "parent_synapses": mated.parent_synapses, "parent_clusters": mated.parent_clusters}
    union = sum(int(m.sum()) for m in mated.masks.values())
    assert mated.parent_synapses == (sum(int(m.sum()) for m in ma.values()) + sum(int(m.sum()) for m in mb.values())) / 2
    assert mated.parent_synapses < union
    env = parent_sized(Environment(0.7, cluster_factor=0.85), genome)
    assert abs(env.factor * union - 0.7 * mated.parent_synapses) < 1e-9
    clusters = sum(int((p > 0).sum()) for p in genome["clusters"].values())
    assert abs(env.cluster_factor * clusters - 0.85 * mated.parent_clusters) < 1e-9
    kept = [sum(int(m.sum()) for m in synthesize_clustered(genome["synapses"], genome["clusters"], "filter", env,
                                                           s)[0].values()) for s in range(300)]
    assert abs(sum(kept) / len(kept) / mated.parent_synapses - 0.7) < 0.02  # F of a parent, not of the union
    assert parent_sized(Environment(0.7, mode="literal"), genome).factor == 0.7  # literal: F as printed
    assert parent_sized(Environment(0.7), {"synapses": genome["synapses"]}) == Environment(0.7)  # asexual
