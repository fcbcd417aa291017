"""The environment's budget (EvoNet eq. 2–3) on small hand-worked cases: the MAC-weighted calibration,
the parent-sized factors of a mated genome, the adaptive environment's record and the refused settings."""

import math

import pytest
import torch

from evosynth.evolution.environment import Environment, adapted, calibrate_scale, expected_total, parent_sized, scaled


def _weighted(scale: float, probabilities: torch.Tensor, costs: torch.Tensor) -> float:
    return float((torch.clamp(scale * probabilities, max=1.0) * costs).sum())


def test_mac_weighted_scale_meets_the_target_and_ignores_dead_and_free_synapses():
    p = torch.tensor([0.9, 0.5, 0.2, 0.05, 0.0, 0.01])
    costs = torch.tensor([1.0, 3.0, 10.0, 2.0, 50.0, 0.0])  # a dead synapse with a large cost, a free one
    s = calibrate_scale([p[:3], p[3:]], 7.0, [costs[:3], costs[3:]])
    assert _weighted(s, p, costs) == pytest.approx(7.0, rel=1e-9)
    # every costed living synapse clipped to 1: the scale just above 1 / the smallest costed probability
    # (the free synapse's 0.01 and the dead one's 0 take no part)
    full = calibrate_scale([p], 100.0, [costs])
    assert full == pytest.approx(1 / float(p[3]) * (1 + 2**-20), rel=1e-12)
    assert _weighted(full, p, costs) == pytest.approx(16.0)
    assert calibrate_scale([p], 16.0, [costs]) == full  # exactly the whole cost: every synapse kept
    assert calibrate_scale([p], 0.0, [costs]) == 0.0
    assert calibrate_scale([torch.zeros(3)], 1.0) == 0.0


def test_the_bisection_converges_on_a_target_near_the_top():
    p = torch.tensor([0.8, 0.4, 0.1], dtype=torch.float64)
    s = calibrate_scale([p], 2.9)
    assert _weighted(s, p, torch.ones(3, dtype=torch.float64)) == pytest.approx(2.9, rel=1e-12)
    assert s == pytest.approx(9.0, rel=1e-12)  # 1 + 1 + 0.1·s = 2.9


def test_budget_scaling_targets_f_times_the_living_cost_by_default():
    probabilities = {"b": torch.tensor([[0.6, 0.0], [0.3, 0.15]]), "a": torch.tensor([0.45, 0.0, 0.9])}
    costs = {"b": torch.tensor([[4.0, 100.0], [1.0, 2.0]]), "a": torch.tensor([3.0, 7.0, 0.5])}
    keep, s = scaled(probabilities, 0.35, "budget", costs)
    living_cost = 4 + 1 + 2 + 3 + 0.5  # the dead synapses' 100 and 7 do not count
    assert sum(float((keep[n] * costs[n]).sum()) for n in keep) == pytest.approx(0.35 * living_cost, rel=1e-6)
    assert all(torch.allclose(keep[n], torch.clamp(s * probabilities[n], max=1.0)) for n in keep)
    counted, _ = scaled(probabilities, 0.35, "budget")  # without costs: F × the living synapses
    assert expected_total(counted) == pytest.approx(0.35 * 5, rel=1e-6)
    given, _ = scaled(probabilities, 0.35, "budget", costs, target=2.0)
    assert sum(float((given[n] * costs[n]).sum()) for n in given) == pytest.approx(2.0, rel=1e-6)


def test_literal_scaling_is_k_times_f_times_p_clipped_to_one():
    probabilities = {"a": torch.tensor([0.5, 0.9, 0.0])}
    keep, s = scaled(probabilities, 0.6, "literal", literal_scale=2.5)
    assert s == pytest.approx(1.5)
    assert torch.allclose(keep["a"], torch.tensor([0.75, 1.0, 0.0]))


def test_expected_total_sums_every_layer_in_double_precision():
    assert expected_total({"a": torch.tensor([0.25, 0.5]), "b": torch.full((3,), 1 / 3)}) == pytest.approx(1.75)
    big = {"a": torch.full((2**24 + 1,), 1.0)}  # beyond float32's exact integers
    assert expected_total(big) == 2**24 + 1


def _mated(parent_synapses: float, parent_clusters: float) -> dict:
    return {
        "synapses": {"a": torch.tensor([0.5, 0.0, 0.2, 0.7]), "b": torch.tensor([[0.1, 0.3], [0.0, 0.9]])},  # 6 living
        "clusters": {"a": torch.tensor([0.4, 0.0]), "b": torch.tensor([0.6, 0.2, 0.1])},  # 4 living
        "parent_synapses": parent_synapses, "parent_clusters": parent_clusters,
    }


def test_parent_sized_factors_refer_to_the_parents_mean_size_not_their_union():
    env = Environment(0.7, cluster_factor=0.85, target="macs")
    sized = parent_sized(env, _mated(4.5, 3.0))
    assert sized.factor == pytest.approx(0.7 * 4.5 / 6)
    assert sized.cluster_factor == pytest.approx(0.85 * 3.0 / 4)
    assert sized.target == "macs" and sized.synapse_factor is None
    # parents as large as the union (or larger): the factors stay, never raised above the environment's
    for synapses, clusters in [(6.0, 4.0), (7.5, 5.0)]:
        same = parent_sized(env, _mated(synapses, clusters))
        assert (same.factor, same.cluster_factor) == (0.7, 0.85)
    # a genome that was not mated, and literal mode, keep the environment as it is
    genome = _mated(4.5, 3.0)
    del genome["parent_synapses"]
    assert parent_sized(env, genome) is env
    literal = Environment(0.7, mode="literal", cluster_factor=0.85)
    assert parent_sized(literal, _mated(4.5, 3.0)) is literal


def test_the_adaptive_record_holds_the_decision_and_the_raised_factors():
    env = Environment(0.6, cluster_factor=0.8)
    rule = {"tolerance": 0.25, "slowdown": 0.25}
    _, record = adapted(env, rule, 0.75, 0.375)
    assert record == pytest.approx({"ancestor_accuracy": 0.75, "parent_accuracy": 0.375, "drop": 0.375,
                                    "tolerance": 0.25, "slowed": True, "factor": 1 - 0.4 * 0.75,
                                    "cluster_factor": 1 - 0.2 * 0.75, "synapse_factor": None})
    split = Environment(0.6, cluster_factor=0.8, synapse_factor=0.9)  # F_s set: raised alike, and recorded
    slowed, record = adapted(split, rule, 0.75, 0.375)
    assert slowed.synapse_factor == record["synapse_factor"] == pytest.approx(1 - 0.1 * 0.75)
    kept, record = adapted(env, rule, 0.75, 0.5)  # a drop of exactly the tolerance is tolerated
    assert kept is env and record == {"ancestor_accuracy": 0.75, "parent_accuracy": 0.5, "drop": 0.25,
                                      "tolerance": 0.25, "slowed": False}


@pytest.mark.parametrize("settings, message", [
    ({"factor": 0.0}, "environmental factor factor must lie in (0, 1], got 0.0"),
    ({"factor": 1.01}, "environmental factor factor must lie in (0, 1], got 1.01"),
    ({"cluster_factor": 0.0}, "environmental factor cluster_factor must lie in (0, 1], got 0.0"),
    ({"cluster_factor": 1.5}, "environmental factor cluster_factor must lie in (0, 1], got 1.5"),
    ({"synapse_factor": 0.0}, "environmental factor synapse_factor must lie in (0, 1], got 0.0"),
    ({"synapse_factor": 2.0}, "environmental factor synapse_factor must lie in (0, 1], got 2.0"),
    ({"mode": "exact"}, "unknown environment mode 'exact'; allowed: budget, literal"),
    ({"target": "flops"}, "unknown environment target 'flops'; allowed: synapses, macs"),
    ({"mode": "literal", "literal_scale": 0.0}, "environment literal_scale must be positive, got 0.0"),
    ({"literal_scale": 2.0}, "environment literal_scale applies to literal mode only; budget mode calibrates its scale"),
    ({"calibrate": "never"}, "unknown environment calibrate 'never'; allowed: compacted, sampled"),
])
def test_bad_environments_are_refused_with_what_is_allowed(settings, message):
    with pytest.raises(ValueError) as error:
        Environment(**{"factor": 0.5, **settings})
    assert str(error.value) == message


def test_every_factor_may_be_one_and_literal_mode_may_scale():
    env = Environment(1.0, mode="literal", cluster_factor=1.0, synapse_factor=1.0, literal_scale=0.5,
                      target="macs", calibrate="sampled")
    assert (env.factor, env.cluster_factor, env.synapse_factor, env.literal_scale) == (1.0, 1.0, 1.0, 0.5)
    assert Environment(math.nextafter(0.0, 1.0)).factor > 0
