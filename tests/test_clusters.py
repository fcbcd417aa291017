"""Cluster-driven genetic encoding (cluster paper eq. 1–5) and its synthesis."""

import math

import pytest
import torch

from evosynth.evolution.encoding import (
    cluster_probability,
    cluster_strength,
    clusters_of,
    encode,
    encode_clusters,
)
from evosynth.evolution.environment import Environment
from evosynth.evolution.synthesis import keep_minimum, sample_mask, seed_for, synthesize_clustered


def test_clusters_of_kernels_filters_and_rows():
    conv = torch.arange(2 * 3 * 2 * 2).view(2, 3, 2, 2)
    assert clusters_of(conv, "kernel").shape == (6, 4)
    assert clusters_of(conv, "filter").shape == (2, 12)
    assert clusters_of(torch.zeros(5, 7), "kernel").shape == (5, 7)


def test_strong_cluster_outlives_weak_cluster_of_equal_size():
    w = torch.cat([torch.full((1, 10), 0.9), torch.full((1, 10), 0.2)])
    mask = torch.ones_like(w, dtype=torch.bool)
    p = cluster_probability(cluster_strength(w, mask, "filter", 0.0), mask.any(1))
    assert math.isclose(p[0].item(), 1.0) and p[1] < p[0]
    env = Environment(factor=0.5, cluster_factor=0.5)
    genome_s, genome_c = {"fc": encode({"fc": w}, {"fc": mask})["fc"]}, {"fc": p}
    strong = weak = 0
    for seed in range(300):
        masks, _ = synthesize_clustered(genome_s, genome_c, "filter", env, seed)
        strong += bool(masks["fc"][0].any())
        weak += bool(masks["fc"][1].any())
    assert strong > weak + 30


def test_truncation_removes_weak_synapses_from_the_sum():
    w = torch.tensor([[1.0, 0.05, 0.05, 0.05]])
    mask = torch.ones_like(w, dtype=torch.bool)
    assert math.isclose(cluster_strength(w, mask, "filter", 0.1).item(), 1.0)
    assert math.isclose(cluster_strength(w, mask, "filter", 0.0).item(), 1.15, rel_tol=1e-6)


def test_truncation_is_not_integer_truncation():
    w = torch.tensor([[0.4, 0.3], [0.2, 0.1]])  # all |w| < 1: int() would make every sum 0
    mask = torch.ones_like(w, dtype=torch.bool)
    s = cluster_strength(w, mask, "filter", 0.1)
    assert (s > 0).all()
    p = cluster_probability(s, mask.any(1))
    assert p[0] == 1.0 and p[1] < 1.0


def test_dead_cluster_has_zero_probability():
    w = torch.randn(3, 4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    p = encode_clusters({"fc": w}, {"fc": mask}, "filter", 0.1)["fc"]
    assert p[1] == 0 and (p[[0, 2]] >= math.exp(-1) - 1e-7).all() and p.max() <= 1


def _genomes(seed=0, kind="kernel"):
    g = torch.Generator().manual_seed(seed)
    weights = {"conv": torch.randn(16, 8, 3, 3, generator=g), "fc": torch.randn(10, 64, generator=g)}
    masks = {n: torch.rand(w.shape, generator=g) > 0.2 for n, w in weights.items()}
    return encode(weights, masks), encode_clusters(weights, masks, kind, 0.1), masks


@pytest.mark.parametrize("kind", ["kernel", "filter"])
def test_budget_mode_hits_cluster_and_overall_synapse_factors(kind):
    synapses, clusters, masks = _genomes(kind=kind)
    env = Environment(factor=0.6, cluster_factor=0.8)
    parent = sum(int(m.sum()) for m in masks.values())
    parent_clusters = int((clusters["conv"] > 0).sum())
    kept, drawn, living = [], [], []
    for seed in range(200):
        out, summary = synthesize_clustered(synapses, clusters, kind, env, seed, protected={"fc"})
        kept.append(sum(int(m.sum()) for m in out.values()))
        drawn.append(summary["clusters"] - int(clusters["fc"].gt(0).sum()))  # conv survivors of the cluster draw
        living.append(int(clusters_of(out["conv"], kind).any(1).sum()))
        assert all(not (out[n] & ~masks[n]).any() for n in out)  # nothing revived
        assert living[-1] <= drawn[-1]  # no synapse outside a surviving cluster
    assert abs(sum(kept) / len(kept) / parent - 0.6) < 0.01
    # two-sided: F_c of the conv clusters survive the draw, and (almost) all of them keep a synapse
    assert abs(sum(drawn) / len(drawn) / parent_clusters - 0.8) < 0.015
    assert abs(sum(living) / len(living) / parent_clusters - 0.8) < 0.02


def test_synapse_factor_calibrated_inside_surviving_clusters():
    synapses, clusters, _ = _genomes()
    env = Environment(factor=0.6, cluster_factor=0.7, synapse_factor=0.5)
    realised = []
    for seed in range(100):
        out, summary = synthesize_clustered(synapses, clusters, "kernel", env, seed)
        assert summary["synapse_factor"] == 0.5
        assert math.isclose(summary["expected_synapses"], 0.5 * summary["held_synapses"], rel_tol=1e-6)
        realised.append(sum(int(m.sum()) for m in out.values()) / summary["held_synapses"])
    assert abs(sum(realised) / len(realised) - 0.5) < 0.01


def test_protected_output_layer_keeps_every_class_cluster():
    synapses, clusters, _ = _genomes(kind="filter")
    classes = int((clusters["fc"] > 0).sum())
    assert classes == 10
    env = Environment(factor=0.2, cluster_factor=0.2)
    unprotected_losses = 0
    for seed in range(20):
        out, summary = synthesize_clustered(synapses, clusters, "filter", env, seed, protected={"fc"})
        conv_drawn = summary["clusters"] - classes  # every class row survives the cluster draw
        assert conv_drawn >= int(clusters_of(out["conv"], "filter").any(1).sum())
        assert int(keep_minimum(out, synapses, "fc")["fc"].any(1).sum()) == classes  # and keeps a synapse
        bare, _ = synthesize_clustered(synapses, clusters, "filter", env, seed)
        unprotected_losses += int(bare["fc"].any(1).sum()) < classes
    assert unprotected_losses > 0  # without protection, F_c = 0.2 kills classes: the protection is doing it


def _inside(synapses, survivors, kind):
    """Per layer, the synapses that lie in a cluster surviving the cluster draw."""
    return {n: (clusters_of(torch.ones_like(p, dtype=torch.bool), kind) & survivors[n][:, None]).view_as(p)
            for n, p in synapses.items()}


def _literal_by_hand(synapses, clusters, kind, f_c, f_s, seed):
    """Cluster paper eq. 1–5 as printed: clusters kept iff F_c·P(c) > U, then synapses iff F_s·P(s) > U inside them."""
    survivors = sample_mask({n: (f_c * p).clamp(max=1) for n, p in clusters.items()}, seed_for(seed, 0, "clusters"))
    inside = _inside(synapses, survivors, kind)
    drawn = sample_mask({n: (f_s * p * inside[n]).clamp(max=1) for n, p in synapses.items()},
                        seed_for(seed, 0, "synapses"))
    return {n: m & inside[n] for n, m in drawn.items()}, inside


@pytest.mark.parametrize("synapse_factor", [0.5, None])
def test_literal_mode_is_fc_times_pc_then_fs_times_ps(synapse_factor):
    """Literal mode: F_c·P(c), then F_s·P(s|c) with F_s given, or F_s = F / F_c when unset (F = F_c·F_s)."""
    synapses, clusters, _ = _genomes()
    env = Environment(factor=0.48, cluster_factor=0.8, synapse_factor=synapse_factor, mode="literal")
    f_s = 0.5 if synapse_factor else 0.6
    for seed in range(3):
        out, summary = synthesize_clustered(synapses, clusters, "kernel", env, seed)
        masks, inside = _literal_by_hand(synapses, clusters, "kernel", 0.8, f_s, seed)
        assert all(torch.equal(out[n], masks[n]) for n in out), seed
        assert summary["cluster_scale"] == 0.8 and math.isclose(summary["synapse_factor"], f_s, rel_tol=1e-12)
        expected = sum(float((f_s * p * inside[n]).sum()) for n, p in synapses.items())
        assert math.isclose(summary["expected_synapses"], expected, rel_tol=1e-6)
        assert math.isclose(summary["expected_clusters"], 0.8 * sum(float(p.sum()) for p in clusters.values()),
                            rel_tol=1e-6)


def test_literal_scale_multiplies_the_cluster_and_the_synapse_draw():
    """k·F_c·P(c), then k·F_s·P(s|c): the literal scale k reaches both levels (F_s = F / F_c = 0.8 here)."""
    synapses, clusters, _ = _genomes()
    env = Environment(factor=0.48, cluster_factor=0.6, mode="literal", literal_scale=1.5)
    for seed in range(3):
        out, summary = synthesize_clustered(synapses, clusters, "kernel", env, seed)
        masks, _ = _literal_by_hand(synapses, clusters, "kernel", 0.9, 1.2, seed)
        assert all(torch.equal(out[n], masks[n]) for n in out), seed
        assert math.isclose(summary["cluster_scale"], 0.9) and math.isclose(summary["synapse_scale"], 1.2)


def test_literal_synapse_factor_is_capped_at_one_when_f_exceeds_fc():
    """F = 0.9 over F_c = 0.5 asks F_s = 1.8; a probability cannot be scaled past certainty, so F_s = 1."""
    synapses, clusters, _ = _genomes()
    env = Environment(factor=0.9, cluster_factor=0.5, mode="literal")
    for seed in range(3):
        out, summary = synthesize_clustered(synapses, clusters, "kernel", env, seed)
        masks, _ = _literal_by_hand(synapses, clusters, "kernel", 0.5, 1.0, seed)
        assert all(torch.equal(out[n], masks[n]) for n in out), seed
        assert summary["synapse_factor"] == 1.0


@pytest.mark.parametrize(("target", "factor", "cluster_factor"),
                         [("synapses", 0.6, 0.8), ("macs", 0.6, 0.8), ("synapses", 0.9, 0.5)])
def test_derived_synapse_factor_is_the_budget_over_what_the_clusters_hold(target, factor, cluster_factor):
    """Derived F_s = min(1, F·Σ cost of the parent / Σ cost inside the surviving clusters), recorded as drawn."""
    synapses, clusters, masks = _genomes()
    g = torch.Generator().manual_seed(7)
    costs = {n: torch.randint(1, 9, p.shape, generator=g).double() for n, p in synapses.items()}
    env = Environment(factor=factor, cluster_factor=cluster_factor, target=target)
    weigh = costs if target == "macs" else {n: torch.ones_like(p) for n, p in synapses.items()}
    for seed in range(3):
        _, summary = synthesize_clustered(synapses, clusters, "kernel", env, seed, costs=costs)
        survivors = sample_mask({n: (summary["cluster_scale"] * p).clamp(max=1) for n, p in clusters.items()},
                                seed_for(seed, 0, "clusters"))
        inside = {n: m & masks[n] for n, m in _inside(synapses, survivors, "kernel").items()}
        parent = sum(float((weigh[n] * masks[n]).sum()) for n in masks)
        held = sum(float((weigh[n] * inside[n]).sum()) for n in inside)
        assert summary["held_synapses"] == sum(int(m.sum()) for m in inside.values())
        assert math.isclose(summary["synapse_factor"], min(1.0, factor * parent / held), rel_tol=1e-12)
        # the synapse draw is calibrated in the target's own cost: it expects F x the parent's cost, or all it holds
        keep = {n: (summary["synapse_scale"] * p * inside[n]).clamp(max=1) for n, p in synapses.items()}
        expected = sum(float((keep[n] * weigh[n]).sum()) for n in keep)
        assert math.isclose(expected, min(factor * parent, held), rel_tol=1e-6)
    assert (summary["synapse_factor"] == 1.0) == (cluster_factor < factor)  # the last case asks more than held


def test_when_no_cluster_survives_nothing_is_held_and_f_s_is_one():
    """Two weak filters at F_c = 0.2: on some seeds both die; the child is empty and F_s is recorded as 1."""
    w = torch.tensor([[0.9, 0.8], [0.2, 0.1]])
    mask = torch.ones_like(w, dtype=torch.bool)
    genome, clusters = encode({"fc": w}, {"fc": mask}), encode_clusters({"fc": w}, {"fc": mask}, "filter", 0.0)
    env = Environment(factor=0.2, cluster_factor=0.2)
    empty = 0
    for seed in range(40):
        out, summary = synthesize_clustered(genome, clusters, "filter", env, seed)
        if summary["clusters"] == 0:
            empty += 1
            assert summary["held_synapses"] == 0 and summary["synapse_factor"] == 1.0 and not out["fc"].any()
    assert empty > 0


def test_protected_dead_cluster_stays_dead():
    """Protection keeps the living clusters of a layer; a cluster dead in the parent (P(c) = 0) never returns."""
    synapses, clusters, masks = _genomes(kind="filter")
    synapses["fc"][3], masks["fc"][3], clusters["fc"][3] = 0.0, False, 0.0  # class 3 has no synapse left
    env = Environment(factor=0.5, cluster_factor=0.5)
    for seed in range(3):
        _, summary = synthesize_clustered(synapses, clusters, "filter", env, seed, protected={"fc"})
        keep = {"conv": (summary["cluster_scale"] * clusters["conv"]).clamp(max=1), "fc": (clusters["fc"] > 0).double()}
        survivors = sample_mask(keep, seed_for(seed, 0, "clusters"))
        assert int(survivors["fc"].sum()) == 9 and not survivors["fc"][3]
        assert summary["clusters"] == sum(int(s.sum()) for s in survivors.values())
        assert summary["parent_clusters"] == 16 + 9  # the dead class is no cluster of the parent
        assert math.isclose(summary["expected_clusters"], float(keep["conv"].sum()) + 9, rel_tol=1e-6)


def test_cluster_truncation_and_z_count_living_weights_only():
    """⌊|w|⌋ truncates below 0.1 × the largest *living* |w| (1.0 here), not a stale dead weight of 30."""
    w = torch.tensor([[1.0, 0.5, 0.05, 30.0], [0.2, 0.08, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True], [False] * 4])
    strength = cluster_strength(w, mask, "filter", 0.1)
    assert torch.allclose(strength, torch.tensor([1.5, 0.2, 0.0]))  # 0.05 and 0.08 fall below 0.1
    p = encode_clusters({"fc": w}, {"fc": mask}, "filter", 0.1)["fc"]
    assert torch.allclose(p, torch.tensor([1.0, math.exp(0.2 / 1.5 - 1.0), 0.0]))  # Z: the strongest living cluster


def test_keep_minimum_revives_the_strongest_living_synapse():
    """A class with no synapse left, and a layer with none, get back the parent's highest-P synapse."""
    genome = {"hidden": torch.tensor([[0.5, 0.9, 0.0], [0.7, 0.4, 0.6]]),
              "out": torch.tensor([[0.3, 0.8, 0.5], [0.0, 0.4, 0.95], [0.6, 0.0, 0.2]])}
    masks = {"hidden": torch.zeros(2, 3, dtype=torch.bool),
             "out": torch.tensor([[False, False, True], [False, False, False], [True, False, False]])}
    kept = keep_minimum(masks, genome, "out")
    assert torch.equal(kept["hidden"], torch.tensor([[False, True, False], [False, False, False]]))  # P = 0.9
    assert torch.equal(kept["out"][1], torch.tensor([False, False, True]))  # class 1: P = 0.95
    assert torch.equal(kept["out"][[0, 2]], masks["out"][[0, 2]])  # classes with a synapse: untouched
    dead = {"hidden": torch.zeros(2, 3, dtype=torch.bool), "out": torch.ones(3, 3, dtype=torch.bool)}
    never = {"hidden": torch.zeros(2, 3), "out": genome["out"]}  # dead in the parent: nothing comes back
    assert not keep_minimum(dead, never, "out")["hidden"].any()


def test_cluster_probability_edge_cases_and_given_strengths():
    """Living clusters of strength 0 get e⁻¹, a layer without living clusters all 0; a cluster exactly at the
    truncation threshold counts; mated strengths given to encode_clusters replace Σ⌊|w|⌋ (eq. 4)."""
    e = math.exp(-1.0)
    assert torch.allclose(cluster_probability(torch.zeros(3), torch.tensor([True, False, True])),
                          torch.tensor([e, 0.0, e]))
    assert torch.equal(cluster_probability(torch.tensor([0.5, 0.2]), torch.tensor([False, False])), torch.zeros(2))
    assert torch.allclose(cluster_probability(torch.tensor([1.0, 0.5]), torch.tensor([True, True])),
                          torch.tensor([1.0, math.exp(-0.5)]))
    w = torch.tensor([[1.0, 0.5], [0.25, 0.0]])
    mask = torch.ones_like(w, dtype=torch.bool)
    assert torch.allclose(cluster_strength(w, mask, "filter", 0.5), torch.tensor([1.5, 0.0]))
    given = encode_clusters({"fc": w}, {"fc": mask}, "filter", 0.5, strengths={"fc": torch.tensor([1.0, 2.0])})
    assert torch.allclose(given["fc"], torch.tensor([math.exp(-0.5), 1.0]))


def _coupled_layers(kind_of_layer: str):
    """Layers a and b write the same four channels (a residual add); b's filter j writes channel (2, 0, 1, 3)[j].

    Stale dead weights (a3, b1, b3) are the strongest of their layers and must count for nothing.
    """
    from evosynth.nets.coupling import ChannelGroup, Members

    weights = {"a": torch.tensor([[1.0, 2.0], [0.5, -0.5], [4.0, 0.2], [10.0, 10.0]]),
               "b": torch.tensor([[-2.0, 2.0], [9.0, 9.0], [1.0, 0.0], [7.0, 7.0]])}
    masks = {"a": torch.tensor([[True, True]] * 3 + [[False, False]]),
             "b": torch.tensor([[True, True], [False, False], [True, True], [False, False]])}
    if kind_of_layer == "conv":  # 1×1 convolutions: a filter is two kernels
        weights = {n: w[:, :, None, None] for n, w in weights.items()}
        masks = {n: m[:, :, None, None] for n, m in masks.items()}
    rows = torch.arange(4)
    group = ChannelGroup("a", 4, {"a": Members(rows, rows), "b": Members(rows, torch.tensor([2, 0, 1, 3]))})
    return weights, masks, [group]


@pytest.mark.parametrize(("layer", "kind"), [("conv", "filter"), ("linear", "filter"), ("linear", "kernel")])
def test_coupled_filters_are_one_cluster_per_channel_with_z_over_the_group(layer, kind):
    """Eq. 4 with the group as the layer, by hand (truncation 0.1 of each layer's largest living |w|):
    Σ⌊|w|⌋ of a = (3, 1, 4, 0) and of b = (4, 0, 1, 0); channel sums (3 + 0, 1 + 1, 4 + 4, 0), Z = 8;
    every living member filter gets its channel's P, a dead one 0. A linear layer's clusters are its rows
    whatever the kind, so its coupled rows are grouped under "kernel" too."""
    weights, masks, groups = _coupled_layers(layer)
    p = encode_clusters(weights, masks, kind, 0.1, groups=groups)
    e = math.exp
    assert torch.allclose(p["a"], torch.tensor([e(3 / 8 - 1), e(2 / 8 - 1), 1.0, 0.0]))
    assert torch.allclose(p["b"], torch.tensor([1.0, 0.0, e(2 / 8 - 1), 0.0]))
    mated = encode_clusters(weights, masks, kind, 0.1, strengths={"a": torch.tensor([1.0, 2.0, 0.5, 0.0]),
                                                                   "b": torch.tensor([3.0, 0.0, 2.0, 0.0])},
                            groups=groups)  # mated strengths (eq. 4) summed per channel: (1, 4, 3.5, 0)
    assert torch.allclose(mated["a"], torch.tensor([e(1 / 4 - 1), 1.0, e(3.5 / 4 - 1), 0.0]))
    assert torch.allclose(mated["b"], torch.tensor([e(3.5 / 4 - 1), 0.0, 1.0, 0.0]))


def test_kernel_clusters_of_coupled_convolutions_stay_per_layer():
    """A kernel is no channel: coupled conv layers encode their kernels layer by layer, as without groups."""
    weights, masks, groups = _coupled_layers("conv")
    grouped = encode_clusters(weights, masks, "kernel", 0.1, groups=groups)
    plain = encode_clusters(weights, masks, "kernel", 0.1)
    assert all(torch.equal(grouped[n], plain[n]) for n in plain)
    # b's living kernels |w| = 2, 2, 1 (and 0, truncated): Z = 2 over b alone, not a's 4 nor the stale 9
    assert torch.allclose(plain["b"], torch.tensor([1.0, 1.0, 0.0, 0.0, math.exp(-0.5), math.exp(-1), 0.0, 0.0]))
