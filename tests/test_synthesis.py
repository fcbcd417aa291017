"""EvoNet eq. 2–4: environmental factor (budget and literal) and Bernoulli synthesis."""

import math

import pytest
import torch

from evosynth.evolution.encoding import synapse_probability
from evosynth.evolution.environment import calibrate_scale, environmental_factor
from evosynth.evolution.synthesis import sample_mask, seed_for


def _genome(seed: int = 0, dead_fraction: float = 0.3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    genome = {}
    for name, shape in {"conv": (8, 4, 3, 3), "fc": (20, 50)}.items():
        w = torch.randn(shape, generator=gen)
        mask = torch.rand(shape, generator=gen) > dead_fraction
        genome[name] = synapse_probability(w, mask)
    return genome


def _living(masks):
    return sum(int(m.sum()) for m in masks.values())


@pytest.mark.parametrize("factor", [0.95, 0.7, 0.4, 0.2, 0.05])
def test_budget_mode_realised_ratio_equals_factor(factor):
    genome = _genome()
    parent = sum(int((p > 0).sum()) for p in genome.values())
    keep, _ = environmental_factor(genome, factor, "budget")
    assert math.isclose(sum(float(p.sum()) for p in keep.values()), factor * parent, rel_tol=1e-6)
    ratios = [_living(sample_mask(keep, seed)) / parent for seed in range(200)]
    assert abs(sum(ratios) / len(ratios) - factor) < 0.01 * factor


def test_literal_mode_is_f_times_p():
    genome = _genome()
    keep, scale = environmental_factor(genome, 0.4, "literal")
    assert scale == 0.4
    for name in genome:
        assert torch.allclose(keep[name], 0.4 * genome[name])


def test_factor_one_in_budget_mode_keeps_every_living_synapse():
    genome = _genome()
    keep, _ = environmental_factor(genome, 1.0, "budget")
    for name in genome:
        assert torch.equal(keep[name] == 1.0, genome[name] > 0)


def test_synthesis_never_revives_a_dead_synapse():
    genome = _genome(dead_fraction=0.6)
    keep, _ = environmental_factor(genome, 1.0, "budget")
    for seed in range(20):
        mask = sample_mask(keep, seed)
        for name in genome:
            assert not (mask[name] & (genome[name] == 0)).any()


def test_same_seed_same_mask_other_seed_other_mask():
    keep, _ = environmental_factor(_genome(), 0.5, "budget")
    a, b, c = sample_mask(keep, 7), sample_mask(keep, 7), sample_mask(keep, 8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_stronger_synapses_survive_more_often():
    w = torch.linspace(0, 1, 1000)
    p = {"layer": synapse_probability(w, torch.ones_like(w, dtype=torch.bool))}
    keep, _ = environmental_factor(p, 0.5, "budget")
    survived = torch.stack([sample_mask(keep, s)["layer"] for s in range(100)]).float().mean(0)
    weak, strong = survived[:200].mean(), survived[-200:].mean()
    assert strong > weak + 0.2


def test_calibrate_scale_clips_probabilities_to_one():
    p = [torch.tensor([1.0, 0.5, 0.4])]
    s = calibrate_scale(p, 2.5)
    assert math.isclose(float(torch.clamp(s * p[0], max=1).sum()), 2.5, rel_tol=1e-6)


def test_the_default_mode_is_the_budget_and_an_unknown_mode_is_refused():
    genome = _genome()
    parent = sum(int((p > 0).sum()) for p in genome.values())
    keep, scale = environmental_factor(genome, 0.3)
    assert math.isclose(sum(float(p.sum()) for p in keep.values()), 0.3 * parent, rel_tol=1e-6)
    assert not math.isclose(scale, 0.3)  # calibrated to the budget, not the literal F
    with pytest.raises(ValueError, match=r"^unknown environment mode 'exact'; allowed: budget, literal$"):
        environmental_factor(genome, 0.3, "exact")


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_factor_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match="environmental factor"):
        environmental_factor(_genome(), bad)


def test_seeds_differ_per_generation_and_purpose():
    assert len({seed_for(0, g, s) for g in range(5) for s in ("train", "synthesize")}) == 10
    assert seed_for(3, 1, "train") == seed_for(3, 1, "train")


def test_seeds_span_63_bits_and_fit_a_signed_64_bit_generator_seed():
    """Every seed lies in [0, 2^63) (torch and numpy take it), spread over the whole range: none of them
    squeezed into fewer bits (2^-300 chance that 300 fair draws all miss the top half)."""
    seeds = [seed_for(s, g, "synthesize") for s in range(30) for g in range(10)]
    assert all(0 <= x < 2**63 for x in seeds) and max(seeds) >= 2**62
    torch.Generator().manual_seed(max(seeds))


def test_the_synthesize_step_draws_generation_g_with_the_seed_of_g(tmp_path):
    """encode → synthesize as the pipeline runs them (EvoNet, literal F = 0.5): the child of generation g is the
    draw F·P(s|w) > U (then compacted) with U seeded by seed_for(experiment seed, g, "synthesize[/m<member>]"), so generations and
    population members of one genome differ, each reproducible on its own."""
    from conftest import record

    from evosynth.artifacts import load_checkpoint, save_checkpoint
    from evosynth.nets.architectures import build_model
    from evosynth.nets.masks import full_masks
    from evosynth.pipeline.steps.encode import run_encode
    from evosynth.pipeline.steps.synthesize import run_synthesize

    torch.manual_seed(0)
    model = build_model("lenet5", (1, 28, 28), 10)
    parent = tmp_path / "parent.pt"
    save_checkpoint(parent, "model", {"state_dict": model.state_dict(), "masks": full_masks(model),
                                      "architecture": "lenet5", "input_shape": (1, 28, 28), "num_classes": 10,
                                      "experiment": "x"})
    record(parent)
    exp = {"method": "evonet", "seed": 4, "init": "inherit", "encoding": {"clusters": "kernel", "truncation": 0.1},
           "environment": {"factor": 0.5, "mode": "literal"}}
    params = {"experiments": {"x": exp}}
    children = {}
    for generation, member in ((2, None), (3, None), (3, 1)):
        out = tmp_path / f"g{generation}m{member}"
        (out / "enc").mkdir(parents=True)
        run_encode(params, "x", generation, [parent], out / "enc", None, member)
        genome = load_checkpoint(out / "enc" / "genome.pt", "genome")
        run_synthesize(params, "x", generation, out / "enc" / "genome.pt", out / "syn", member)
        child = load_checkpoint(out / "syn" / "offspring.pt", "offspring")["masks"]
        stream = "synthesize" if member is None else f"synthesize/m{member}"
        drawn = sample_mask({n: 0.5 * p for n, p in genome["synapses"].items()}, seed_for(4, generation, stream))
        drawn["fc1"] &= drawn["fc2"].any(0)[:, None]  # compaction: fc1 neurons that fc2 no longer reads
        assert all(torch.equal(child[n], drawn[n]) for n in drawn), (generation, member)
        children[generation, member] = child
    assert not torch.equal(children[2, None]["fc1"], children[3, None]["fc1"])
    assert not torch.equal(children[3, None]["fc1"], children[3, 1]["fc1"])


@pytest.mark.parametrize("target", ["macs", "synapses"])
def test_evonet_budget_counts_what_the_target_names(target):
    """target macs: Σ min(1, s·P)·MACs = F × the parent's MACs; target synapses: the same count, costs ignored."""
    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import synthesize_synapses

    genome = _genome(3)
    costs = {"conv": torch.full((8, 4, 3, 3), 36.0), "fc": torch.ones(20, 50)}  # a conv synapse costs 36 MACs
    weight = costs if target == "macs" else {n: torch.ones_like(c) for n, c in costs.items()}
    masks, summary = synthesize_synapses(genome, Environment(0.3, target=target), 4, costs)
    keep = {n: torch.clamp(summary["synapse_scale"] * p, max=1.0) for n, p in genome.items()}
    parent = sum(float(((p > 0) * weight[n]).sum()) for n, p in genome.items())
    assert math.isclose(sum(float((keep[n] * weight[n]).sum()) for n in keep), 0.3 * parent, rel_tol=1e-6)
    assert math.isclose(summary["expected_synapses"], sum(float(k.sum()) for k in keep.values()), rel_tol=1e-6)
    assert all(torch.equal(masks[n], m) for n, m in sample_mask(keep, 4).items())


@pytest.mark.parametrize("target", ["macs", "synapses"])
def test_cluster_driven_budgets_count_what_the_target_names_at_both_levels(target):
    """Cluster-driven synthesis in budget mode with per-synapse costs (a conv synapse 36 MACs, a linear one 1):
    target macs keeps F_c of the parent's cluster MACs in expectation; target synapses keeps F_c of its
    clusters (each counts one) and ignores the costs it is handed."""
    from evosynth.evolution.encoding import clusters_of
    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import synthesize_clustered

    genome = _genome(5)
    gen = torch.Generator().manual_seed(6)
    clusters = {n: torch.rand(p.shape[0], generator=gen) * (clusters_of(p, "filter") > 0).any(1)
                for n, p in genome.items()}
    costs = {"conv": torch.full((8, 4, 3, 3), 36.0), "fc": torch.ones(20, 50)}
    env = Environment(0.3, cluster_factor=0.6, target=target)
    masks, summary = synthesize_clustered(genome, clusters, "filter", env, 9, costs=costs)
    cluster_cost = ({n: clusters_of(costs[n] * (p > 0), "filter").sum(1) for n, p in genome.items()}
                    if target == "macs" else {n: (c > 0).double() for n, c in clusters.items()})
    keep = {n: torch.clamp(summary["cluster_scale"] * c, max=1.0) for n, c in clusters.items()}
    parent = sum(float(c.sum()) for c in cluster_cost.values())
    assert math.isclose(sum(float((keep[n] * cluster_cost[n]).sum()) for n in keep), 0.6 * parent, rel_tol=1e-6)
    if target == "synapses":  # costs handed over but not the target: the same draw as without them
        plain, plain_summary = synthesize_clustered(genome, clusters, "filter", env, 9)
        assert plain_summary == summary and all(torch.equal(plain[n], masks[n]) for n in masks)


def _coupled_pair():
    """Layers s and b (rows = units) write the same three channels; b's unit i writes channel (1, 2, 0)[i]."""
    from evosynth.nets.coupling import ChannelGroup, Members

    rows = torch.arange(3)
    return ChannelGroup("s", 3, {"s": Members(rows, rows), "b": Members(rows, torch.tensor([1, 2, 0]))})


def test_coupled_channels_are_drawn_once_with_the_largest_member_probability():
    """Cluster paper eq. 4 per group channel, by hand: U from the group stream < max of the members' F_c·P(c)
    (channel 0: 0.8·max(0.9, 1.0), 1: 0.8·max(0.5, 0.4), 2: 0.8·max(0.2, 0.7)); the channel's units live or
    die together, whatever the global RNG does meanwhile."""
    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import synthesize_clustered

    group = _coupled_pair()
    synapses = {"s": torch.ones(3, 2), "b": torch.ones(3, 2)}  # F_s·P(s) = 1: every synapse of a kept unit
    clusters = {"s": torch.tensor([0.9, 0.5, 0.2]), "b": torch.tensor([0.4, 0.7, 1.0])}
    env = Environment(0.8, mode="literal", cluster_factor=0.8, synapse_factor=1.0)
    keep = torch.tensor([0.8, 0.4, 0.56], dtype=torch.float64)
    outcomes = set()
    for seed in range(12):
        torch.manual_seed(seed + 100)
        masks, summary = synthesize_clustered(synapses, clusters, "filter", env, seed, groups=[group])
        u = torch.rand(3, generator=torch.Generator().manual_seed(seed_for(seed, 0, "channel groups")),
                       dtype=torch.float64)
        alive = (u < keep).tolist()
        assert masks["s"].all(dim=1).tolist() == alive and masks["s"].any(dim=1).tolist() == alive, seed
        assert masks["b"].all(dim=1).tolist() == [alive[c] for c in (1, 2, 0)], seed
        assert summary["clusters"] == 2 * sum(alive)
        outcomes.add(tuple(alive))
    assert len(outcomes) > 2  # the seeds exercise live and dead channels


def _residual_chain():
    """s and b write the coupled channels (0, 1); a writes three private channels that b reads."""
    from evosynth.nets.coupling import ChannelGroup, Members

    two, three = torch.arange(2), torch.arange(3)
    coupled = ChannelGroup("s", 2, {"s": Members(two, two), "b": Members(two, two)})
    private = ChannelGroup("a", 3, {"a": Members(three, three)}, {"b": Members(three, three)})
    return [coupled, private]


def test_a_dead_producer_of_a_living_coupled_channel_gets_its_strongest_synapse_from_a_living_input():
    """b's unit 0 is dead while s still writes channel 0: it gets back its highest-P synapse among the inputs
    that still live (0.5 from a's channel 0, not 0.9 from a's dead channel 1); with none left, channel 0 dies
    in s too. Readers lose the synapses of dead channels; nothing dead in the parent comes back."""
    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import shared_fate, synthesize_synapses

    groups = _residual_chain()
    genome = {"s": torch.full((2, 2), 0.6), "a": torch.tensor([[0.7, 0.8], [0.0, 0.0], [0.9, 0.4]]),
              "b": torch.tensor([[0.5, 0.9, 0.3], [0.6, 0.2, 0.8]])}
    masks = {"s": torch.ones(2, 2, dtype=torch.bool), "a": genome["a"] > 0,
             "b": torch.tensor([[False, False, False], [True, True, True]])}
    settled = shared_fate(masks, genome, groups)
    assert settled["b"].tolist() == [[True, False, False], [True, False, True]]
    assert settled["s"].all() and torch.equal(settled["a"], masks["a"])
    genome["b"][0] = torch.tensor([0.0, 0.9, 0.0])  # b's unit 0 reads only the dead channel 1
    settled = shared_fate(masks, genome, groups)
    assert settled["s"].tolist() == [[False, False], [True, True]]
    assert settled["b"].tolist() == [[False, False, False], [True, False, True]]
    genome["b"][0] = 0.0  # dead in the parent: the synthesis settles channel 0 the same way
    drawn, _ = synthesize_synapses(genome, Environment(1.0), 0, groups=groups)
    assert drawn["s"].tolist() == [[False, False], [True, True]] and not drawn["b"][0].any()


def _conv_residual(b_unit0: torch.Tensor):
    """Conv producers s (2×1×2×2) and b (2×3×2×2) write the coupled channels, read by a linear head h; a
    (3×1×2×2) writes three private channels that b reads, channel 1 dead. b's unit 0 is dead, its parent row
    ``b_unit0`` (3×2×2)."""
    from evosynth.nets.coupling import ChannelGroup, Members

    two, three = torch.arange(2), torch.arange(3)
    groups = [ChannelGroup("s", 2, {"s": Members(two, two), "b": Members(two, two)}, {"h": Members(two, two)}),
              ChannelGroup("a", 3, {"a": Members(three, three)}, {"b": Members(three, three)})]
    genome = {"s": torch.full((2, 1, 2, 2), 0.6), "a": torch.full((3, 1, 2, 2), 0.7),
              "b": torch.stack([b_unit0, torch.full((3, 2, 2), 0.4)]), "h": torch.full((2, 2), 0.5)}
    genome["a"][1] = 0.0
    genome["b"][1, 1] = 0.0  # b's unit 1 never read the dead channel: only the revival changes anything
    masks = {n: g > 0 for n, g in genome.items()}
    masks["b"][0] = False
    return masks, genome, groups


def test_a_dead_conv_producer_is_revived_from_a_living_input_channel_and_a_dead_channel_leaves_its_readers():
    """Conv rows are (inputs, kh, kw): the living-input mask spans each input's whole kernel. b's unit 0 gets
    back its strongest synapse reading a living channel (0.5 at input 2, row 1, column 0), not 0.9 at the dead
    input 1; when it reads only input 1, channel 0 dies in s and b, and the head's synapses on it go too."""
    from evosynth.evolution.synthesis import shared_fate

    row = torch.zeros(3, 2, 2)
    row[1, 0, 0], row[2, 1, 0], row[0, 0, 1] = 0.9, 0.5, 0.3
    settled = shared_fate(*_conv_residual(row))
    assert settled["b"][0].nonzero().tolist() == [[2, 1, 0]]
    assert settled["s"].all() and settled["h"].all()
    only_dead = torch.zeros(3, 2, 2)
    only_dead[1] = 0.9
    settled = shared_fate(*_conv_residual(only_dead))
    assert not settled["s"][0].any() and not settled["b"][0].any() and settled["s"][1].all()
    assert settled["h"].tolist() == [[False, True], [False, True]]


def test_keep_minimum_settles_coupled_channels_first_and_revives_from_living_inputs():
    """keep_minimum with coupled groups, worked by hand: on the residual chain (b the output layer) the masks
    are settled first (b's unit 0, dead while s writes channel 0, gets its strongest synapse, 0.9 from a's
    channel 1); with a head h reading the coupled channels, a class with no synapse gets back its strongest
    parent synapse *that reads a living channel* (h[0, 1] at 0.5, not h[0, 0] at 0.9 from the dead channel 0,
    which would be cut again and leave the class without a synapse)."""
    from evosynth.evolution.synthesis import keep_minimum, shared_fate
    from evosynth.nets.coupling import ChannelGroup, Members

    groups = _residual_chain()
    genome = {"s": torch.full((2, 2), 0.6), "a": torch.tensor([[0.7, 0.8], [0.5, 0.5], [0.9, 0.4]]),
              "b": torch.tensor([[0.5, 0.9, 0.3], [0.6, 0.2, 0.8]])}
    masks = {"s": torch.ones(2, 2, dtype=torch.bool), "a": genome["a"] > 0,
             "b": torch.tensor([[False, False, False], [True, True, True]])}
    kept = keep_minimum(masks, genome, "b", groups)
    settled = shared_fate(masks, genome, groups)
    assert {n: m.tolist() for n, m in kept.items()} == {n: m.tolist() for n, m in settled.items()}
    assert kept["b"].tolist() == [[False, True, False], [True, True, True]]  # b[0, 1]: a's channel 1 lives
    # s all dead, class 1 of b too: settling revives s[0] (b writes channel 0); class 1 gets back b[1, 2]
    # (0.8), which writes channel 1 again, so the masks are settled once more and s's unit 1 comes back too
    masks = {"s": torch.zeros(2, 2, dtype=torch.bool), "a": genome["a"] > 0,
             "b": torch.tensor([[True, True, True], [False, False, False]])}
    kept = keep_minimum(masks, genome, "b", groups)
    assert kept["b"].tolist() == [[True, True, True], [False, False, True]]
    assert kept["s"].tolist() == [[True, False], [True, False]]
    # a head h reads the coupled channels; channel 0 dies in s and b, and class 0 loses its synapses
    two = torch.arange(2)
    head = [ChannelGroup("s", 2, {"s": Members(two, two), "b": Members(two, two)}, {"h": Members(two, two)}),
            ChannelGroup("h", 2, {"h": Members(two, two)})]
    genome = {"s": torch.full((2, 2), 0.6), "b": torch.full((2, 2), 0.6),
              "h": torch.tensor([[0.9, 0.5], [0.4, 0.7]])}
    half = torch.tensor([[False, False], [True, True]])
    masks = {"s": half, "b": half.clone(), "h": half.clone()}
    kept = keep_minimum(masks, genome, "h", head)
    assert kept["h"].tolist() == [[False, True], [False, True]]  # class 0 reads channel 1 (0.5), not 0 (0.9)
    assert kept["s"].tolist() == kept["b"].tolist() == [[False, False], [True, True]]


def test_keep_minimum_with_only_private_channel_groups_is_keep_minimum_without_groups():
    """Without a coupled channel the groups change nothing: a class with no synapse gets back its strongest
    parent synapse even when it reads a channel dead in the child (b[0, 1] at 0.9 from a's dead channel 1)."""
    from evosynth.evolution.synthesis import keep_minimum

    private = _residual_chain()[1:]
    genome = {"a": torch.tensor([[0.7, 0.8], [0.5, 0.5], [0.9, 0.4]]),
              "b": torch.tensor([[0.5, 0.9, 0.3], [0.6, 0.2, 0.8]])}
    masks = {"a": torch.tensor([[True, True], [False, False], [True, False]]),
             "b": torch.tensor([[False, False, False], [True, False, True]])}
    kept = keep_minimum(masks, genome, "b", private)
    assert kept["b"].tolist() == [[False, True, False], [True, False, True]]
    assert {n: m.tolist() for n, m in kept.items()} == {n: m.tolist() for n, m in keep_minimum(masks, genome,
                                                                                               "b").items()}


def test_literal_scale_multiplies_the_literal_draw_of_evonet():
    """Literal mode with k = 1.3 at F = 0.7: synapse k exists iff U_k < min(1, 1.3·0.7·P_k), U drawn in
    float64 from the seed's generator (worked by hand); without the scale the same U give fewer synapses."""
    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import synthesize_synapses

    genome = {"fc": torch.tensor([[0.4, 0.9, 1.0], [0.37, 0.6, 0.8]])}
    masks, info = synthesize_synapses(genome, Environment(0.7, "literal", literal_scale=1.3), seed=5)
    u = torch.rand((2, 3), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    keep = (0.91 * genome["fc"].double()).clamp(max=1.0)
    assert torch.equal(masks["fc"], u < keep)
    expected = float(keep.sum())
    assert info == {"synapse_scale": pytest.approx(0.91), "expected_synapses": pytest.approx(expected)}
    plain, _ = synthesize_synapses(genome, Environment(0.7, "literal"), seed=5)
    assert torch.equal(plain["fc"], u < 0.7 * genome["fc"].double())
