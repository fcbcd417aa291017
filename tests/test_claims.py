"""Claims judged where the networks still work, each in its own form (evosynth.reporting.claims)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evosynth.reporting.claims import NOT_TESTABLE, judge_claim, judged, usable, usable_range_text
from evosynth.reporting.trajectories import GRID

SEEDS = range(5)


def _chain(accuracies, factor=0.5, clusters=1.0, macs=None, val_shift=0.0):
    """One chain by generation: efficiency 1/F per generation; validation accuracy = test + ``val_shift``."""
    return {g: {"accuracy": a, "val_accuracy": a + val_shift, "synaptic_efficiency": factor ** -g,
                "cluster_efficiency": clusters ** g, "mac_reduction": (macs or [1.0] * len(accuracies))[g]}
            for g, a in enumerate(accuracies)}


def _claim(**extra):
    return {"metric": "accuracy", "at": "synaptic_efficiency", "form": "difference", "usable_drop": 5.0,
            "decide_on": "val_accuracy", "min_effect": 0.0, **extra}


def _unsaid(key, **extra):
    """A claim that does not name ``key`` (its default applies)."""
    claim = _claim(**extra)
    del claim[key]
    return claim


def test_the_usable_part_ends_before_the_first_generation_past_the_drop_even_if_it_recovers():
    chain = _chain([0.90, 0.88, 0.84, 0.80, 0.89])
    assert sorted(usable(chain, 5.0, "accuracy")) == [0, 1]   # 6 pp at generation 2; generation 4's 89 % not counted
    assert sorted(usable(chain, 6.0, "accuracy")) == [0, 1, 2]
    assert sorted(usable(chain, None, "accuracy")) == [0, 1, 2, 3, 4]


def test_a_collapse_beyond_the_drop_does_not_enter_the_effect():
    # the treatment is 1 pp better while both work (generations 0-2) and 30 pp better once both collapse
    control = [0.90, 0.88, 0.87, 0.30, 0.10]
    treated = [0.90, 0.89, 0.88, 0.60, 0.40]
    t = {s: _chain(treated) for s in SEEDS}
    c = {s: _chain([a + 0.001 * s for a in control[:1]] + control[1:]) for s in SEEDS}
    row, = judge_claim(_claim(), t, c, 0.95)
    # over generations 0-2 (efficiency 1-4x) the curves differ by 0, 1, 1 pp: mean over the log grid 0.75 pp
    assert 0.5 < row["mean"] < 1.0
    assert row["range_high"] == pytest.approx(4.0)
    assert row["control_accuracy_in_range"] == pytest.approx(87.0)
    whole, = judge_claim(_claim(usable_drop=None), t, c, 0.95)  # the old behaviour: the collapse dominates
    assert whole["mean"] > 5.0


def test_each_arm_is_cut_at_its_own_drop_and_a_seed_without_its_pair_takes_no_part():
    # the treatment collapses after generation 2, the control works on: the range stops where the treatment does
    t = {s: _chain([0.90, 0.89, 0.88 + 0.001 * s, 0.60, 0.40]) for s in SEEDS}
    c = {s: _chain([0.90, 0.88, 0.87, 0.86, 0.85]) for s in SEEDS}
    row, = judge_claim(_claim(), t, c, 0.95)
    assert row["range_high"] == pytest.approx(4.0) and 0.5 < row["mean"] < 1.2 and row["verdict"] == "supported"
    alone = {**t, 7: _chain([0.90, 0.50, 0.40, 0.30, 0.20])}  # no control of seed 7
    again, = judge_claim(_claim(), alone, c, 0.95)
    assert again["mean"] == row["mean"] and again["seeds_usable"] == row["seeds_usable"] == 5


def test_the_accuracy_in_range_is_each_arms_at_the_matched_ranges_end_not_at_its_usable_end():
    # the treatment stops at 4x (generation 2); the control works on to 32x (generation 5) at lower accuracy
    t = {s: _chain([0.90, 0.89, 0.88]) for s in SEEDS}
    c = {s: _chain([0.90, 0.895, 0.885, 0.87, 0.86, 0.85 + 0.001 * s]) for s in SEEDS}
    row, = judge_claim(_claim(), t, c, 0.95)
    assert row["range_high"] == pytest.approx(4.0)
    assert (row["treatment_accuracy_in_range"], row["control_accuracy_in_range"]) == pytest.approx((88.0, 88.5))
    on_generation, = judge_claim(_claim(at="generation"), t, c, 0.95)
    assert on_generation["control_accuracy_in_range"] == pytest.approx(88.5)


def test_the_range_is_read_on_validation_accuracy_not_test():
    # validation says the control collapsed at generation 1; test says it is fine: only validation decides
    t = {s: _chain([0.90, 0.895, 0.89]) for s in SEEDS}
    c = {s: {**_chain([0.90, 0.88, 0.87]), 1: {**_chain([0.90, 0.88, 0.87])[1], "val_accuracy": 0.5}} for s in SEEDS}
    row, = judge_claim(_claim(), t, c, 0.95)
    assert row["verdict"] == NOT_TESTABLE and math.isnan(row["mean"])
    on_test, = judge_claim(_claim(decide_on="accuracy"), t, c, 0.95)
    assert on_test["verdict"] == "supported"
    # validation unless a claim says otherwise
    assert judge_claim(_unsaid("decide_on"), t, c, 0.95)[0]["verdict"] == NOT_TESTABLE


def test_the_matched_range_and_the_mean_over_its_grid_are_the_rows():
    # on efficiency: a 2 pp tent over log10 1x-4x; its mean at GRID points (not the integral, not another grid)
    t = {s: _chain([0.90, 0.90, 0.88]) for s in SEEDS}
    c = {s: _chain([0.90, 0.88, 0.88]) for s in SEEDS}
    row, = judge_claim(_claim(usable_drop=None), t, c, 0.95)
    grid = np.linspace(0.0, math.log10(4.0), GRID)
    tent = np.interp(grid, [0.0, math.log10(2.0), math.log10(4.0)], [0.0, 2.0, 0.0])
    assert row["mean"] == pytest.approx(float(np.mean(tent)), rel=1e-9)
    assert (row["range_low"], row["range_high"]) == pytest.approx((1.0, 4.0))
    # synaptic efficiency unless a claim says otherwise
    assert judge_claim(_unsaid("at", usable_drop=None), t, c, 0.95)[0] == row
    # on generations: the common ones after the ancestor, 1 to 3
    t = {s: _chain([0.90, 0.89, 0.88, 0.87]) for s in SEEDS}
    c = {s: _chain([0.90, 0.88, 0.88, 0.86]) for s in SEEDS}
    row, = judge_claim(_claim(at="generation", usable_drop=None), t, c, 0.95)
    assert (row["range_low"], row["range_high"], row["mean"]) == pytest.approx((1, 3, 2 / 3))


def test_no_usable_range_is_not_testable_and_not_a_number():
    t = {s: _chain([0.90, 0.50, 0.20]) for s in SEEDS}
    c = {s: _chain([0.90, 0.40, 0.10]) for s in SEEDS}
    row, = judge_claim(_claim(), t, c, 0.95)
    assert row["verdict"] == NOT_TESTABLE and row["seeds_usable"] == 0 and row["effects"] == ""
    assert all(math.isnan(row[k]) for k in ("mean", "range_low", "range_high", "control_accuracy_in_range"))
    on_generation, = judge_claim(_claim(at="generation", metric="synaptic_efficiency"), t, c, 0.95)
    assert on_generation["verdict"] == NOT_TESTABLE
    # one seed without a usable range leaves the others to judge, whichever seed it is
    mixed = {**t, **{s: _chain([0.90, 0.89, 0.88 + 0.001 * s]) for s in (1, 2, 3, 4)}}
    row, = judge_claim(_claim(), mixed, {**c, **{s: _chain([0.90, 0.88, 0.87]) for s in (1, 2, 3, 4)}}, 0.95)
    assert row["seeds_usable"] == 4 and row["verdict"] == "supported"


def test_accuracy_is_compared_as_the_drop_from_each_arms_own_ancestor():
    # the treatment's ancestor is 2 pp weaker; it loses 1 pp less than the control at every generation
    t = {s: _chain([0.88, 0.875 + 0.001 * s, 0.87]) for s in SEEDS}
    c = {s: _chain([0.90, 0.885, 0.88]) for s in SEEDS}
    row, = judge_claim(_claim(at="generation"), t, c, 0.95)
    # drops: treatment 0.5-0.1s pp and 1 pp, control 1.5 and 2 pp: +1 pp on average, raw would be about -1 pp
    assert row["mean"] == pytest.approx(1.0 + 0.05 * 2, abs=1e-9)
    assert row["verdict"] == "supported"


def test_generation_matching_leaves_out_the_shared_ancestor():
    t = {s: _chain([0.9, 0.89, 0.88], factor=0.25 + 0.01 * s) for s in SEEDS}
    c = {s: _chain([0.9, 0.89, 0.88], factor=0.5) for s in SEEDS}
    row, = judge_claim(_claim(metric="synaptic_efficiency", at="generation"), t, c, 0.95)
    expected = sum((math.log10(1 / (0.25 + 0.01 * s)) - math.log10(2)) * 1.5 for s in SEEDS) / 5
    assert row["mean"] == pytest.approx(expected)   # mean over generations 1 and 2 only: (1 + 2) / 2 steps
    assert (row["range_low"], row["range_high"]) == (1, 2)


@pytest.mark.parametrize(("low", "high", "form", "margin", "expected"), [
    (0.1, 0.4, "difference", None, "negligible"),          # inside ±0.5: too small to matter
    (0.1, 0.9, "difference", None, "supported"),
    (-0.9, -0.6, "difference", None, "contradicted"),
    (-0.2, 0.9, "difference", None, "inconclusive"),
    (-0.6, 0.7, "equivalence", 1.0, "supported"),          # inside the margin
    (1.2, 1.9, "equivalence", 1.0, "contradicted"),        # wholly outside it
    (0.5, 1.5, "equivalence", 1.0, "inconclusive"),
])
def test_verdict_rules(low, high, form, margin, expected):
    interval = {"n": 5, "mean": (low + high) / 2, "sd": 1.0, "low": low, "high": high}
    assert judged(interval, form, 0.5, margin) == expected
    assert judged({**interval, "n": 1}, form, 0.5, margin) == NOT_TESTABLE


def test_equivalence_uses_the_two_one_sided_tests_interval():
    # the 95 % interval reaches past the 0.4 pp margin, the 90 % one does not: equivalent under TOST at 5 %
    offsets = [0.30, 0.05, 0.45, 0.20, 0.10]
    t = {s: _chain([0.90, 0.89 + offsets[s] / 100, 0.88 + offsets[s] / 100]) for s in SEEDS}
    c = {s: _chain([0.90, 0.89, 0.88]) for s in SEEDS}
    row, = judge_claim(_claim(form="equivalence", margin=0.4, at="generation"), t, c, 0.95)
    assert row["tost_high"] < 0.4 < row["high"]
    assert row["verdict"] == "supported"


def test_the_rows_intervals_take_the_confidence_given_and_the_claims_own_thresholds():
    from scipy import stats

    offsets = [0.30, -0.25, 0.45, 0.20, -0.10]  # effects on generations 1-2, pp: around 0, inside 0.6 and 1.0
    t = {s: _chain([0.90, 0.89 + offsets[s] / 100, 0.88 + offsets[s] / 100]) for s in SEEDS}
    c = {s: _chain([0.90, 0.89, 0.88]) for s in SEEDS}
    mean, sd = float(np.mean(offsets)), float(np.std(offsets, ddof=1))
    row, = judge_claim(_claim(form="equivalence", margin=0.6, at="generation"), t, c, 0.8)
    for key, confidence in (("high", 0.8), ("tost_high", 0.6)):  # the two-sided 80 % and TOST's 1 - 2 x 20 %
        half = float(stats.t.ppf(0.5 + confidence / 2, 4)) * sd / math.sqrt(5)
        assert row[key] == pytest.approx(mean + half, rel=1e-9)
    assert row["verdict"] == "supported"  # TOST inside the margin, where a difference claim has no verdict
    assert judge_claim(_claim(at="generation"), t, c, 0.8)[0]["verdict"] == "inconclusive"
    # the claim's minimum effect, and 0 when it names none
    shifted = {s: _chain([0.90, 0.895 + offsets[s] / 1000, 0.885 + offsets[s] / 1000]) for s in SEEDS}
    assert judge_claim(_claim(at="generation", min_effect=1.0), shifted, c, 0.95)[0]["verdict"] == "negligible"
    assert judge_claim(_unsaid("min_effect", at="generation"), shifted, c, 0.95)[0]["verdict"] == "supported"


def test_the_rows_unit_follows_the_form_and_an_unknown_form_is_refused_in_one_line():
    t = {s: _chain([0.90, 0.89 + 0.001 * s, 0.88]) for s in SEEDS}
    c = {s: _chain([0.90, 0.89, 0.88]) for s in SEEDS}
    difference, = judge_claim(_claim(), t, c, 0.95)
    matched, = judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[1]), t, c, 0.95)
    assert (difference["unit"], matched["unit"]) == ("pp", "log10 ×")
    with pytest.raises(ValueError) as error:
        judge_claim(_claim(form="ratio"), t, c, 0.95)
    assert str(error.value) == "unknown claim form 'ratio'; allowed: difference, equivalence, matched_accuracy"


def test_every_form_gives_a_row_of_the_same_columns_in_the_same_order():
    # the report writes every claim's rows into one CSV: a difference row first, then an equivalence row
    t = {s: _chain([0.90, 0.89 + 0.001 * s, 0.88]) for s in SEEDS}
    c = {s: _chain([0.90, 0.89, 0.88]) for s in SEEDS}
    rows = [*judge_claim(_claim(), t, c, 0.95), *judge_claim(_claim(form="equivalence", margin=0.4), t, c, 0.95),
            *judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[1]), t, c, 0.95)]
    assert [list(r) for r in rows[1:]] == [list(rows[0])] * 2
    assert math.isnan(rows[0]["tost_low"]) and not math.isnan(rows[1]["tost_low"])


def test_compute_claims_compare_the_reduction_reached_at_matched_accuracy():
    # MAC arm: 3x MACs at generation 2 (-1.5 pp), 6x at generation 3 (-2.5 pp); control: 2x and 8x there
    acc = [0.90, 0.895, 0.885, 0.875, 0.80]
    t = {s: _chain(acc, macs=[1, 1.5, 3.0, 6.0, 20.0]) for s in SEEDS}
    c = {s: _chain(acc, macs=[1, 1.4, 2.0 + 0.01 * s, 8.0, 30.0]) for s in SEEDS}
    rows = judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[1, 2, 3], min_effect=0.05),
                       t, c, 0.95)
    assert [r["at"] for r in rows] == ["within 1 pp", "within 2 pp", "within 3 pp"]
    assert rows[0]["mean"] == pytest.approx(math.log10(1.5 / 1.4))
    assert rows[1]["verdict"] == "supported" and rows[2]["verdict"] == "contradicted"
    assert rows[2]["mean"] == pytest.approx(math.log10(6 / 8))
    assert all(r["censored"] == 0 for r in rows)
    censored = judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[30]), t, c, 0.95)
    assert censored[0]["censored"] == 10   # both arms of every seed still within 30 pp at their last generation
    # the level is the row's range, no accuracy in range; a treatment seed without a control takes no part
    extra = {**t, 5: _chain(acc, macs=[1, 9.0, 9.0, 9.0, 9.0])}
    row, = judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[2]), extra, c, 0.95)
    assert row["seeds"] == 5 and row["mean"] == pytest.approx(rows[1]["mean"])
    assert (row["range_low"], row["range_high"]) == (2, 2)
    assert math.isnan(row["treatment_accuracy_in_range"]) and math.isnan(row["control_accuracy_in_range"])
    text = "best reached within 30 pp of each arm's ancestor (10 arm-seeds censored)"
    assert usable_range_text(censored[0], 1.0) == text


def test_seeds_are_paired_by_number():
    # seed-specific effects: the treatment of seed s is s pp better; reversed pairing would give other effects
    t = {s: _chain([0.90, 0.88 + 0.01 * s, 0.87 + 0.01 * s]) for s in SEEDS}
    c = {s: _chain([0.90, 0.88 + 0.002 * s * s, 0.87 + 0.002 * s * s]) for s in SEEDS}
    row, = judge_claim(_claim(at="generation", usable_drop=None), t, c, 0.95)
    assert [float(e) for e in row["effects"].split()] == pytest.approx([s - 0.2 * s * s for s in SEEDS], abs=1e-3)


def test_matched_accuracy_levels_are_read_on_validation_accuracy():
    acc = [0.90, 0.895, 0.885, 0.875]
    t = {s: _chain(acc, macs=[1, 1.5, 3.0, 6.0]) for s in SEEDS}
    c = {s: _chain(acc, macs=[1, 1.4, 2.0 + 0.01 * s, 8.0]) for s in SEEDS}
    for s in SEEDS:  # validation puts the treatment's generation 3 at -4 pp: it no longer counts within 3 pp
        t[s][3]["val_accuracy"] = 0.86
    row, = judge_claim(_claim(metric="mac_reduction", form="matched_accuracy", drops=[3]), t, c, 0.95)
    assert row["mean"] == pytest.approx(math.log10(3.0 / 8.0))
    unsaid = _unsaid("decide_on", metric="mac_reduction", form="matched_accuracy", drops=[3])  # validation
    assert judge_claim(unsaid, t, c, 0.95)[0]["mean"] == pytest.approx(math.log10(3.0 / 8.0))
    on_test, = judge_claim({**unsaid, "decide_on": "accuracy"}, t, c, 0.95)  # test: generation 3 is within
    assert on_test["mean"] == pytest.approx(math.log10(6.0 / 8.0))


def test_literal_scale_multiplies_every_literal_probability_and_clips_at_one():
    import torch

    from evosynth.evolution.environment import Environment, scaled

    p = {"w": torch.tensor([0.2, 0.5, 0.9])}
    plain, k1 = scaled(p, 0.7, "literal")
    raised, k = scaled(p, 0.7, "literal", literal_scale=1.7)
    assert k1 == pytest.approx(0.7) and k == pytest.approx(1.19)
    assert raised["w"].tolist() == pytest.approx([0.238, 0.595, 1.0])
    assert plain["w"].tolist() == pytest.approx([0.14, 0.35, 0.63])
    with pytest.raises(ValueError, match="literal mode only"):
        Environment(0.7, "budget", literal_scale=1.7)


@pytest.mark.parametrize("method", ["evonet", "cluster"])
def test_literal_scale_reaches_both_levels_of_synthesis(method):
    import torch

    from evosynth.evolution.environment import Environment
    from evosynth.evolution.synthesis import synthesize_clustered, synthesize_synapses

    g = torch.Generator().manual_seed(3)
    synapses = {"conv": torch.rand(6, 2, 3, 3, generator=g) * 0.6 + 0.37}
    clusters = {"conv": torch.rand(6, generator=g) * 0.6 + 0.37}
    env = Environment(0.7, "literal", cluster_factor=0.85, literal_scale=1.3)
    if method == "evonet":
        _, info = synthesize_synapses(synapses, env, seed=1)
        assert info["synapse_scale"] == pytest.approx(1.3 * 0.7)
    else:
        _, info = synthesize_clustered(synapses, clusters, "filter", env, seed=1)
        assert info["cluster_scale"] == pytest.approx(1.3 * 0.85)
        assert info["synapse_scale"] == pytest.approx(1.3 * 0.7 / 0.85)


def test_a_claim_without_a_drop_limit_and_without_overlap_is_described_in_words():
    row = {"form": "difference", "at": "synaptic_efficiency", "range_low": math.nan, "range_high": math.nan}
    assert usable_range_text(row, None) == "none (no seed beyond the ancestor)"
    assert usable_range_text(row, 5.0) == "none (no seed with both arms within 5 pp beyond the ancestor)"


def test_the_usable_range_is_written_on_its_own_axis_with_its_limit():
    on_generations = {"form": "difference", "at": "generation", "range_low": 1.0, "range_high": 7.0}
    assert usable_range_text(on_generations, None) == "generations 1–7"
    assert usable_range_text(on_generations, 2.5) == "generations 1–7, both arms within 2.5 pp of their ancestors"
    on_efficiency = {"form": "equivalence", "at": "synaptic_efficiency", "range_low": 1.25, "range_high": 31.62}
    assert usable_range_text(on_efficiency, None) == "synaptic efficiency 1.25–31.6×"
    assert usable_range_text(on_efficiency, 1.0) == (
        "synaptic efficiency 1.25–31.6×, both arms within 1 pp of their ancestors")
