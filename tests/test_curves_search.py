"""The search for the evolved configuration: chosen on validation accuracy alone, every candidate kept, the
final comparison made once, on test, for the chosen one; the distillation teacher as a knob."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from conftest import record
from test_curves import _chain, _searched, _write_chains, write_timings

from evosynth.pipeline.curves import configurations, curve_runs, search_seeds
from evosynth.pipeline.curves_steps import timed_networks
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.pickset import seeded_chains
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.curves import run_curves
from evosynth.reporting.curves_search import search, val_area


# --- the score ------------------------------------------------------------------------------------------


def test_the_area_is_the_mean_validation_accuracy_over_log10_of_the_range_and_zero_where_a_chain_stops():
    flat = _chain([1, 4, 32], [0.5] * 3, vals=[0.8] * 3, macs=[1, 2, 16])
    assert val_area(flat, "mac_reduction", 2, 16) == pytest.approx(80.0)
    # linear in log10 of the MAC reduction: 90 % at 2x, 60 % at 16x; the mean over the range is the midpoint
    sloped = _chain([1, 2, 3], [0.5] * 3, vals=[0.9, 0.9, 0.6], macs=[1, 2, 16])
    assert val_area(sloped, "mac_reduction", 2, 16) == pytest.approx(75.0, abs=1e-9)
    # a chain that stops at 4x has a third of the range (log 2..4 of log 2..16): the rest counts as 0
    short = _chain([1, 2, 3], [0.5] * 3, vals=[0.8] * 3, macs=[1, 2, 4])
    assert val_area(short, "mac_reduction", 2, 16) == pytest.approx(80.0 / 3, rel=1e-2)
    # it reads the validation key: the test accuracy (0.5 everywhere) would give 50
    assert val_area(flat, "mac_reduction", 2, 16, key="accuracy") == pytest.approx(50.0)


def _three():
    """pk: good on both; pk_val: the best on validation, the worst on test; pk_test: the best on test alone."""
    def seeds(vals, tests, top=16):
        return {s: _chain([1, 2, 8, 32], [t - 0.004 * s for t in tests], vals=[v - 0.003 * s for v in vals],
                          macs=[1, 2, 6, top]) for s in range(3)}
    return {"pk": seeds([0.90, 0.88, 0.86, 0.84], [0.90, 0.88, 0.86, 0.84]),
            "pk_val": seeds([0.90, 0.89, 0.88, 0.87], [0.90, 0.80, 0.75, 0.70]),
            "pk_test": seeds([0.90, 0.85, 0.80, 0.78], [0.92, 0.91, 0.90, 0.89])}


def test_a_candidate_that_wins_on_validation_is_chosen_with_the_count_of_configurations_tried():
    found = search(_three(), "mac_reduction", [2, 4, 8, 16], 0.95)
    assert found["chosen"] == "pk_val" and found["tried"] == 3
    assert [r["configuration"] for r in found["rows"]] == ["pk", "pk_val", "pk_test"]  # every candidate kept
    assert [r["chosen"] for r in found["rows"]] == [False, True, False]
    row = found["rows"][1]
    assert row["n"] == 3 and row["low"] < row["mean"] < row["high"] and row["reached"] == 3
    # a tie goes to the first listed (the evolved run): a later equal candidate does not displace it
    tie = search({"pk": _three()["pk"], "pk_copy": _three()["pk"]}, "mac_reduction", [2, 16], 0.95)
    assert tie["chosen"] == "pk"


def test_the_search_scores_every_configuration_on_the_seeds_they_all_run():
    runs = _three()
    for name in ("pk_val", "pk_test"):  # searched on seeds 0 and 1 only
        del runs[name][2]
    # pk's seed 2, which no candidate runs, is far the best on validation: counted, it would make pk the choice
    runs["pk"][2] = _chain([1, 2, 8, 32], [0.5] * 4, vals=[0.99] * 4, macs=[1, 2, 6, 16])
    found = search(runs, "mac_reduction", [2, 4, 8, 16], 0.95)
    assert found["seeds"] == [0, 1] and found["chosen"] == "pk_val"
    assert [(r["n"], r["seeds"]) for r in found["rows"]] == [(2, 2)] * 3
    assert found["rows"][0]["by_seed"].keys() == {0, 1}


def test_the_choice_never_reads_test_accuracy_permuted_or_perturbed():
    runs = _three()
    reference = search(runs, "mac_reduction", [2, 4, 8, 16], 0.95)
    rng = random.Random(7)
    tests = [m["accuracy"] for seeds in runs.values() for series in seeds.values() for m in series.values()]
    for trial in range(5):
        shuffled = copy.deepcopy(runs)
        order = rng.sample(tests, len(tests)) if trial < 4 else [1.0 - t for t in tests]  # reversed order last
        it = iter(order)
        for seeds in shuffled.values():
            for series in seeds.values():
                for m in series.values():
                    m["accuracy"] = next(it)
        again = search(shuffled, "mac_reduction", [2, 4, 8, 16], 0.95)
        assert again == reference
    # the validation accuracy does move it: pk_test made best on validation is chosen
    lifted = copy.deepcopy(runs)
    for series in lifted["pk_test"].values():
        for m in series.values():
            m["val_accuracy"] += 0.1
    assert search(lifted, "mac_reduction", [2, 4, 8, 16], 0.95)["chosen"] == "pk_test"


# --- params and plan ------------------------------------------------------------------------------------


def test_candidates_are_runs_of_the_curves_on_the_evolved_runs_line_and_are_timed():
    params = validate_params(_searched())
    assert configurations(params) == ["pk", "pk_e2", "pk_slow"]
    assert curve_runs(params)[:3] == ["pk", "pk_e2", "pk_slow"]
    # every seed of a candidate starts from the evolved run's ancestor of that seed: gen0 is pk's
    assert chain_metrics("pk_e2_s1", params)[0] == "results/pk_s1/gen0/metrics.json"
    timed = timed_networks(params, "pk_e2_s1")
    assert timed == ["results/pk_s1/gen0", "results/pk_e2_s1/gen1", "results/pk_e2_s1/gen2"]
    curves = next(s for s in build_plan(params) if s.step == "curves")
    assert "results/pk_slow_s0/gen2/metrics.json" in curves.deps
    assert "experiments.pk_slow.generations" in curves.params


def test_distillation_from_the_ancestor_makes_the_ancestor_every_offsprings_teacher():
    params = validate_params(_searched(distill={"alpha": 0.5, "temperature": 2.0, "teacher": "ancestor"}))
    steps = {s.name: s for s in build_plan(params)}
    retrain = steps["retrain-pk_e2_s1-gen2"]
    assert "--teacher results/pk_s1/gen0/model.pt" in retrain.cmd and "results/pk_s1/gen0/model.pt" in retrain.deps
    assert "results/pk_e2_s1/gen1/model.pt" not in retrain.deps
    parent = validate_params(_searched(distill={"alpha": 0.5, "temperature": 2.0}))  # absent: the parent
    step = {s.name: s for s in build_plan(parent)}["retrain-pk_e2_s1-gen2"]
    assert "--teacher results/pk_e2_s1/gen1/model.pt" in step.cmd


# --- the report -----------------------------------------------------------------------------------------


def _write_search(root: Path, params: dict) -> None:
    """Metrics of every chain (test_curves' values), the candidates' with their own validation, and timings."""
    _write_chains(root, params)
    for name, lift in (("pk_e2", 0.03), ("pk_slow", -0.02)):  # pk_e2: better on validation, worse on test
        for seed, chain in seeded_chains(params, name).items():
            effs = [1, 3, 9 + 2 * seed]
            series = _chain(effs, [0.88 - 0.03 * g for g in range(3)], vals=[0.9 + lift * (g > 0) for g in range(3)])
            for g, path in enumerate(chain_metrics(chain, params)[1:], 1):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(json.dumps(series[g]))
                record(root / path)
    write_timings(root, params)


def test_the_report_keeps_every_candidate_and_compares_the_one_chosen_on_validation_once_on_test(tmp_path):
    params = validate_params(_searched())
    _write_search(tmp_path, params)
    out = tmp_path / "reports/curves"
    result = run_curves(params, out, root=tmp_path)
    assert result["search"]["chosen"] == "pk_e2" and result["search"]["tried"] == 3
    text = (out / "curves.md").read_text()
    assert "## The search: 3 configurations tried, chosen on validation" in text
    assert "| pk_e2 |" in text and "**chosen**" in text and "| pk_slow |" in text
    assert "pk_e2 has no from-scratch controls" in text  # the chosen one's controls are asked for, not hidden
    assert "pk_e2 against pk_magnitude, pk_random, pk_l1_filter" in text  # the comparison: the chosen one alone
    assert "pk_slow against" not in text and "| × | pk_e2 | pk_magnitude |" in text
    rows = (out / "search.csv").read_text().splitlines()
    assert rows[0].startswith("configuration,tried,axis,low,high,decided_on") and len(rows) == 4
    assert rows[2].startswith("pk_e2,3,mac_reduction,2,16,val_accuracy,2,") and rows[2].endswith(",1")
    from evosynth.figures import read_axes

    (panel,) = read_axes(out / "curves_search.png")
    assert panel["ylabel"] == "validation accuracy (%)" and "MAC reduction" in panel["xlabel"]


def _on_two_of_three(every: tuple[str, ...] = ()) -> dict:
    """pk over seeds 0-2 (the baselines follow it), the candidates searched on seeds 0 and 1; ``every``: candidates
    given all three."""
    params = _searched()
    params["experiments"]["pk"]["seeds"] = [0, 1, 2]
    for name in ("pk_e2", "pk_slow"):
        params["experiments"][name]["seeds"] = [0, 1, 2] if name in every else [0, 1]
    return validate_params(params)


def test_a_candidate_searched_on_fewer_seeds_is_timed_only_where_it_runs():
    params = _on_two_of_three()
    assert curve_runs(params)[:3] == ["pk", "pk_e2", "pk_slow"]
    timings = {s.unit for s in build_plan(params) if s.step == "latency"}
    assert {"pk_s2", "pk_e2_s1", "pk_slow_s0"} <= timings and not {"pk_e2_s2", "pk_slow_s2"} & timings
    assert "results/pk_e2_s1/gen2" in timed_networks(params, "pk_e2_s1")
    curves = next(s for s in build_plan(params) if s.step == "curves")
    assert "results/pk_s2/gen2/metrics.json" in curves.deps and "results/pk_e2_s1/gen2/metrics.json" in curves.deps
    assert not any("pk_e2_s2" in d for d in curves.deps)


def test_the_chosen_candidate_is_compared_only_once_it_runs_every_seed_and_its_choice_stands(tmp_path):
    params = _on_two_of_three()
    _write_search(tmp_path, params)
    first = run_curves(params, tmp_path / "a", root=tmp_path)
    assert first["search"]["chosen"] == "pk_e2" and first["search"]["seeds"] == [0, 1] and first["rows"] == []
    text = (tmp_path / "a/curves.md").read_text()
    assert "over seeds 0, 1, the seeds every configuration runs" in text
    assert "**Not compared yet.** pk_e2 runs seeds 0, 1 of the curves' 0, 1, 2" in text
    assert "pk_e2 against" not in text and "## At fixed" not in text and "| pk_e2 |" in text  # the log, no test
    # given every seed (its seed 2 written), it is compared, on all three; the search and its log do not move
    extended = _on_two_of_three(every=("pk_e2",))
    _write_search(tmp_path, extended)
    second = run_curves(extended, tmp_path / "b", root=tmp_path)
    assert second["search"]["chosen"] == "pk_e2" and second["rows"]
    text = (tmp_path / "b/curves.md").read_text()
    assert "pk_e2 against pk_magnitude, pk_random, pk_l1_filter" in text and "Not compared yet" not in text
    at2 = next(r for r in second["rows"] if r["axis"] == "mac_reduction" and r["point"] == 2)
    assert at2["methods"]["pk_e2"]["seeds"] == 3
    assert (tmp_path / "a/search.csv").read_bytes() == (tmp_path / "b/search.csv").read_bytes()


def test_permuting_the_test_accuracies_in_the_metrics_files_leaves_the_choice_and_its_log_unchanged(tmp_path):
    params = validate_params(_searched())
    _write_search(tmp_path, params)
    first = run_curves(params, tmp_path / "a", root=tmp_path)["search"]
    paths = [p for name in configurations(params) for chain in seeded_chains(params, name).values()
             for p in chain_metrics(chain, params)]
    metrics = [json.loads((tmp_path / p).read_text()) for p in paths]
    tests = [m["accuracy"] for m in metrics]
    random.Random(3).shuffle(tests)
    for path, m, t in zip(paths, metrics, tests, strict=True):
        (tmp_path / path).write_text(json.dumps({**m, "accuracy": 1.0 - t}))
        record(tmp_path / path)
    again = run_curves(params, tmp_path / "b", root=tmp_path)["search"]
    assert again == first
    assert (tmp_path / "a/search.csv").read_bytes() == (tmp_path / "b/search.csv").read_bytes()


def test_the_committed_search_tries_ten_configurations_each_a_knob_alone_together_or_on_the_leader_on_two_seeds():
    from conftest import ROOT

    from evosynth.pipeline.params import load_params
    from evosynth.pipeline.seeds import FAMILIES

    params = load_params(ROOT / "params.yaml")
    tried, families = configurations(params), params[FAMILIES]
    assert len(tried) == 10 and tried[0] == params["curves"]["evolved"] == "curve_pick"
    pick = families["curve_pick"]
    knobs = {"generations", "environment", "train"}

    def changes(spec):
        """What a configuration changes of the pick: (knob, value) for generations, (knob, key, value) inside."""
        differ = {k for k in {*spec, *pick} if spec.get(k) != pick.get(k)} - {"ancestor", "seeds"}
        assert differ and differ <= knobs, differ
        inner = {(k, key, repr(spec[k].get(key))) for k in differ & {"environment", "train"}
                 for key in {*spec[k], *pick[k]} if spec[k].get(key) != pick[k].get(key)}
        return {(k, repr(spec[k])) for k in differ - {"environment", "train"}} | inner

    def one_knob(made):
        """F with its split and length, or one training setting (a schedule and its rewinding count as one)."""
        inner = [c for c in made if c[0] != "generations"]
        return bool(made) and len(inner) <= 2 and len({c[0] for c in inner}) <= 1

    earlier, rounds = [], []
    for name in tried[1:]:
        spec = families[name]
        assert spec["ancestor"] == "curve_pick" and search_seeds(params) == pick["seeds"][:2]
        assert spec["seeds"] in (search_seeds(params), pick["seeds"]), name  # searched on two, or given every seed
        made = changes(spec)
        combined = [c for c in earlier if c <= made]
        base = set().union(*combined)
        new = made - base
        if one_knob(made):  # the first round: one knob of the pick
            rounds.append("knob")
        elif not new:  # earlier candidates' knobs together, each exactly as in its own candidate
            assert len(combined) >= 2, (name, made)
            rounds.append("together")
        else:  # one knob not tried before, on top of an earlier configuration, unchanged
            assert base in earlier and one_knob(new) and not {c[:2] for c in new} & {c[:2] for c in base}, (name, made)
            rounds.append(("on", earlier.index(base)))
        earlier.append(made)
    # four knobs alone, two rounds of knobs together, then the untried knobs each on the third round's configuration
    assert rounds == ["knob"] * 4 + ["together"] * 2 + [("on", 5)] * 3
    assert params["curves"]["search"]["axis"] == "mac_reduction"


def test_the_configuration_given_every_seed_and_the_controls_is_the_one_the_committed_search_chose():
    """The search read from the committed metrics (validation only, on the search's seeds) chooses the one
    configuration that runs every seed of the curves and whose networks get the from-scratch controls."""
    from conftest import ROOT

    from evosynth.pipeline.params import load_params
    from evosynth.reporting.curves import trajectory
    from evosynth.scores import VALIDATION

    params = load_params(ROOT / "params.yaml")
    curves, shared = params["curves"], search_seeds(params)
    tried = configurations(params)
    read = {name: {seed: trajectory([json.loads((ROOT / p).read_text()) for p in chain_metrics(chain, params)],
                                    (VALIDATION, curves["search"]["axis"]), chain)
                   for seed, chain in seeded_chains(params, name).items() if seed in shared}
            for name in tried}
    found = search(read, curves["search"]["axis"], curves["operating_points"][curves["search"]["axis"]],
                   curves["confidence"])
    assert found["tried"] == len(tried) == 10 and found["seeds"] == shared == [0, 1]
    every = [name for name in tried[1:] if sorted(seeded_chains(params, name)) == sorted(seeded_chains(
        params, curves["evolved"]))]
    assert every == [found["chosen"]]
    assert curves["scratch"]["chains"][0] == found["chosen"]
    assert [n for n in curves["scratch"]["chains"] if n in tried] == [found["chosen"]]
