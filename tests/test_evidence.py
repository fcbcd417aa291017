"""The evidence set: seeds expand into chains, verdicts carry an interval, both engines build the same DAG."""

from __future__ import annotations

import copy
import json
import math
import re
import sys

import pytest
from conftest import BIN, TINY_PARAMS, make_project, record, root_stages_text, run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.errors import ParamsError
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan, param_values
from evosynth.reporting.evidence import judge
from evosynth.reporting.trajectories import GRID, curve, paired_effect, t_interval, verdict

SEEDS = [0, 1, 2, 3, 4]


def _trajectory(accuracies: list[float], factor: float = 0.5, clusters: float = 1.0) -> dict[int, dict[str, float]]:
    """A chain as per_generation gives it: efficiency 1/F per generation, the given accuracies."""
    return {g: {"accuracy": a, "val_accuracy": a, "synaptic_efficiency": factor ** -g, "cluster_efficiency": clusters ** g,
                "mac_reduction": 1.0} for g, a in enumerate(accuracies)}


CONTROL = [0.90, 0.89, 0.88, 0.86, 0.83]


def _claim(offsets: list[float]) -> dict[str, float]:
    """Per-seed effects of a treatment `offset` pp above the control after the shared ancestor."""
    effects = []
    for offset in offsets:
        treated = [CONTROL[0]] + [a + offset / 100 for a in CONTROL[1:]]
        effects.append(paired_effect(_trajectory(treated), _trajectory(CONTROL), "accuracy"))
    return t_interval(effects)


def test_a_constant_offset_is_measured_exactly_and_log_metrics_are_log_ratios():
    shifted = [a + 0.01 for a in CONTROL]
    assert paired_effect(_trajectory(shifted), _trajectory(CONTROL), "accuracy") == pytest.approx(1.0)
    # twice the cluster efficiency at every matched synaptic efficiency: +log10(2)
    treated = _trajectory(CONTROL, clusters=2.0)
    # (g·log10 2 at generation g, linear on the matched axis: its mean over generations 0-4 is 2·log10 2)
    assert paired_effect(treated, _trajectory(CONTROL), "cluster_efficiency") == pytest.approx(2 * math.log10(2.0))


def test_matching_on_efficiency_differs_from_matching_on_generation():
    # the treatment shrinks twice as fast per generation at the same accuracy per generation: at matched
    # efficiency it is more accurate, at matched generation it is not
    fast, slow = _trajectory(CONTROL, factor=0.25), _trajectory(CONTROL, factor=0.5)
    assert paired_effect(fast, slow, "accuracy") > 0.5
    assert paired_effect(fast, slow, "accuracy", at="generation") == pytest.approx(0.0)
    assert paired_effect(fast, slow, "synaptic_efficiency", at="generation") == pytest.approx(
        2 * math.log10(2.0), rel=1e-9)  # mean of g·log10(4) − g·log10(2) over g in [0, 4]



def test_trajectories_that_do_not_overlap_are_compared_where_they_are_closest():
    """Treatment reaches 1–2× synaptic efficiency, control starts at 4×: the effect is the treatment's last
    accuracy (at 2×) minus the control's first (at 4×), 81 − 88 = −7 pp."""
    treatment = {0: {"accuracy": 0.90, "synaptic_efficiency": 1.0},
                 1: {"accuracy": 0.81, "synaptic_efficiency": 2.0}}
    control = {2: {"accuracy": 0.88, "synaptic_efficiency": 4.0},
               3: {"accuracy": 0.80, "synaptic_efficiency": 8.0}}
    assert paired_effect(treatment, control, "accuracy") == pytest.approx(-7.0)
    assert paired_effect(control, treatment, "accuracy") == pytest.approx(7.0)


def test_a_stalled_axis_keeps_each_value_at_its_first_generation_however_long_the_chain():
    """17 generations (a search candidate runs 16) whose axis is out of order and stalls: each value of the axis keeps
    the earliest generation's accuracy (a stable order; numpy's default sort reorders ties past 16 items)."""
    steps = [3, 4, 1, 4, 4, 0, 4, 1, 1, 0, 4, 1, 1, 2, 4, 1, 4]
    series = {g: {"accuracy": g / 100, "synaptic_efficiency": 2.0 ** k} for g, k in enumerate(steps)}
    x, y = curve(series, "accuracy", "synaptic_efficiency")
    assert x.tolist() == pytest.approx([k * math.log10(2.0) for k in range(5)])
    assert y.tolist() == pytest.approx([steps.index(k) for k in range(5)])  # pp: generation g scored g %


def test_the_effect_is_the_mean_difference_over_the_grid_of_the_matched_range():
    """A tent (0, 10, 0 pp at 1x, 10x, 100x) against a flat control: the mean of the tent at GRID evenly spaced
    points of log10 efficiency in [0, 2], which a grid of another size does not give."""
    tent = {g: {"accuracy": a, "synaptic_efficiency": 10.0 ** g} for g, a in enumerate([0.0, 0.1, 0.0])}
    flat = {0: {"accuracy": 0.0, "synaptic_efficiency": 1.0}, 1: {"accuracy": 0.0, "synaptic_efficiency": 100.0}}
    points = [2 * i / (GRID - 1) for i in range(GRID)]
    expected = sum(10 * (1 - abs(x - 1)) for x in points) / GRID
    assert paired_effect(tent, flat, "accuracy") == pytest.approx(expected, rel=1e-12)
    other = [2 * i / (GRID + 13) for i in range(GRID + 14)]
    assert abs(expected - sum(10 * (1 - abs(x - 1)) for x in other) / len(other)) > 1e-3


def test_t_interval_by_hand():
    got = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) · sd 1 / sqrt(3)
    assert got["mean"] == pytest.approx(2.0) and got["sd"] == pytest.approx(1.0)
    assert (got["low"], got["high"]) == pytest.approx((2.0 - half, 2.0 + half))


@pytest.mark.parametrize(("offsets", "expected"), [
    ([1.0, 1.2, 0.8, 1.1, 0.9], "supported"),           # a clear gain on every seed
    ([-1.0, -1.3, -0.7, -1.1, -0.9], "contradicted"),   # a clear loss on every seed
    ([1.45, 1.15, 0.65, -2.10, -1.05], "inconclusive"),  # the issue's per-generation stressed differences
    ([2.0], "inconclusive"),                            # one seed: no interval
])
def test_verdict_on_hand_made_seed_tables(offsets, expected):
    interval = _claim(offsets)
    assert verdict(interval) == expected
    if expected == "inconclusive" and interval["n"] > 1:
        assert interval["low"] < 0 < interval["high"]



def test_two_seeds_give_a_verdict_and_one_seed_never_does():
    """Two seeds: t(0.975, 1) = 12.706 · sd 0.0707 / √2 = 0.635 around 1.05, so the gain is supported and
    the loss contradicted; one seed is inconclusive even when handed finite bounds."""
    gain, loss = t_interval([1.0, 1.1]), t_interval([-1.0, -1.1])
    assert gain["low"] == pytest.approx(1.05 - 12.706204736 * 0.1 / math.sqrt(2) / math.sqrt(2))
    assert (verdict(gain), verdict(loss)) == ("supported", "contradicted")
    assert verdict({"n": 1, "mean": 1.0, "sd": 0.0, "low": 0.5, "high": 1.5}) == "inconclusive"
    # an interval that touches 0 contains it
    assert verdict({"n": 3, "mean": 0.5, "sd": 0.2, "low": 0.0, "high": 1.0}) == "inconclusive"
    assert verdict({"n": 3, "mean": -0.5, "sd": 0.2, "low": -1.0, "high": 0.0}) == "inconclusive"
    assert verdict({"n": 3, "mean": 0.0, "sd": 0.2, "low": -0.5, "high": 0.5}) == "inconclusive"


def _rows(accuracies: list[float], factor: float, members: int = 1) -> list[dict[str, float]]:
    """A chain's metrics rows (members of a generation spread ±0.5 pp around the given accuracy)."""
    return [{"generation": g, "accuracy": a + (k - (members - 1) / 2) * 0.01 / max(members - 1, 1),
             "synaptic_efficiency": factor ** -g, "cluster_efficiency": 1.0, "mac_reduction": 1.0}
            for g, a in enumerate(accuracies) for k in range(members)]


def test_judge_pairs_each_seed_with_its_own_control():
    """Seed-specific chains: each treatment seed is compared with the control of the same seed only.

    Control seeds start 2 pp apart; treatment seed s shares its control's ancestor and gains s + 1 pp over
    that control at every later generation, so pairing by seed gives +1, +2, +3; reversed or shuffled pairs
    give other effects.
    """
    seeds = [3, 7, 11]
    base = {s: [a - 0.02 * k for a in CONTROL] for k, s in enumerate(seeds)}
    control = {s: _rows(base[s], 0.5, members=2) for s in seeds}
    treatment = {s: _rows(base[s][:1] + [a + (k + 1) / 100 for a in base[s][1:]], 0.5, members=2)
                 for k, s in enumerate(seeds)}
    treatment[99] = _rows(CONTROL, 0.5)  # a seed without a control is left out
    claim = {"metric": "accuracy", "at": "generation"}
    row, = judge(claim, treatment, control, 0.95, 16.5)
    assert row["seeds"] == 3 and row["effects"] == "+1.000 +2.000 +3.000"
    assert row["mean"] == pytest.approx(2.0) and row["sd"] == pytest.approx(1.0)
    assert (row["low"], row["high"]) == pytest.approx((2.0 - 4.302652729911275 / math.sqrt(3),
                                                       2.0 + 4.302652729911275 / math.sqrt(3)))
    assert row["verdict"] == "inconclusive" and row["unit"] == "pp"
    assert row["treatment_min_final_efficiency"] == 16.0 and not row["passes_target"]
    assert judge(claim, treatment, control, 0.95, 16.0)[0]["passes_target"]
    faster = {s: _rows(base[s], 0.25) for s in seeds}
    mixed, = judge({"metric": "synaptic_efficiency", "at": "generation"}, faster, control, 0.95, 16.0)
    assert mixed["effects"] == "+0.753 +0.753 +0.753" and mixed["unit"] == "log10 ×"  # 2.5 log10 2: generations 1-4
    assert (mixed["treatment_min_final_efficiency"], mixed["control_min_final_efficiency"]) == (256.0, 16.0)


def _seeded(**extra) -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    base = params["experiments"].pop("tiny")
    base.pop("seed")
    control = {**copy.deepcopy(base), "seeds": [0, 1], "default": False}
    treatment = {**copy.deepcopy(base), "seeds": [0, 1], "default": False, "ancestor": "ctl", "method": "cluster",
                 "encoding": {"clusters": "kernel"}}
    params["experiments"].update(tiny=copy.deepcopy(TINY_PARAMS["experiments"]["tiny"]), ctl=control, trt=treatment)
    params["evidence"] = {"claims": {"c": {"claim": "clusters die", "treatment": "trt", "control": "ctl",
                                           "metric": "cluster_efficiency"}}, "sweep": ["ctl"]}
    params.update(extra)
    return params


def test_seeds_expand_into_one_chain_per_seed_sharing_each_seeds_ancestor():
    params = validate_params(_seeded())
    assert [e for e in params["experiments"]] == ["tiny", "ctl_s0", "ctl_s1", "trt_s0", "trt_s1"]
    assert [params["experiments"][f"trt_s{s}"]["seed"] for s in (0, 1)] == [0, 1]
    assert params["experiments"]["trt_s1"]["ancestor"] == "ctl_s1"
    steps = {s.name: s for s in build_plan(params)}
    assert "stress_train-ctl_s1-gen0" in steps and "stress_train-trt_s1-gen0" not in steps
    encode = steps["encode-trt_s1-gen1"]
    assert "results/ctl_s1/gen0/model.pt" in encode.deps
    # the chain's steps read the experiment as written in params.yaml (DVC tracks those keys)
    assert "experiments.trt.method" in encode.params and not any("trt_s1" in k for k in encode.params)
    assert param_values(params, encode.params)["experiments.trt.method"] == "cluster"
    evidence = steps["evidence"]
    assert not evidence.default and evidence.folder == "reports/evidence"
    assert {f"results/{e}/gen2/metrics.json" for e in ("ctl_s0", "ctl_s1", "trt_s0", "trt_s1")} <= set(evidence.deps)
    # an experiment without seeds is unchanged, and so are its steps
    plain = {s.name: s for s in build_plan(validate_params(copy.deepcopy(TINY_PARAMS))) if "tiny" in s.name}
    assert plain == {name: s for name, s in steps.items() if "tiny" in name}


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["experiments"]["trt"].update(seeds=[0, 1, 2]),
     r"experiments\.trt\.seeds: 'ctl' trains no ancestor for seed\(s\) 2"),
    (lambda p: p["experiments"]["trt"].update(ancestor="tiny"),
     r"experiments\.trt\.ancestor: 'tiny' has no seeds"),
    (lambda p: p["experiments"].update(ctl_s0=copy.deepcopy(p["experiments"]["tiny"])),
     r"the chain name 'ctl_s0' is taken"),
    (lambda p: p["evidence"]["claims"]["c"].update(control="tiny"),
     r"evidence\.claims\.c\.control: 'tiny' is not an experiment with seeds"),
    (lambda p: p["experiments"]["ctl"].update(seed=7),
     r"experiments\.ctl\.seed: 7 is not one of seeds"),
    (lambda p: p["experiments"]["ctl"].update(seeds=[]), r"experiments\.ctl\.seeds"),
    (lambda p: p["evidence"]["claims"]["c"].update(form="equivalence"), r"evidence\.claims\.c: form equivalence needs a margin"),
    (lambda p: p["evidence"]["claims"]["c"].update(form="matched_accuracy", metric="accuracy"),
     r"evidence\.claims\.c: form matched_accuracy compares a reduction"),
    (lambda p: p["evidence"]["claims"]["c"].update(usable_drop=0), r"evidence\.claims\.c\.usable_drop"),
    (lambda p: p["experiments"]["ctl"]["environment"].update(literal_scale=1.5),
     r"experiments\.ctl_s0\.environment\.literal_scale: applies to literal mode only"),
])
def test_bad_seeds_and_evidence_are_refused_with_the_key(change, message):
    params = _seeded()
    change(params)
    with pytest.raises(ParamsError, match=message):
        validate_params(params)


def test_evidence_step_writes_verdicts_from_every_seed(tmp_path, monkeypatch):
    from evosynth.pipeline.steps.evidence import run_evidence

    params = validate_params(_seeded())
    monkeypatch.chdir(tmp_path)
    for exp in ("ctl_s0", "ctl_s1", "trt_s0", "trt_s1"):
        spec = params["experiments"][exp]
        clusters = 1.5 if exp.startswith("trt") else 1.0
        for g, row in _trajectory([0.9, 0.89, 0.88], clusters=clusters).items():
            owner = spec.get("ancestor") or exp if g == 0 else exp
            folder = tmp_path / f"results/{owner}/gen{g}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "metrics.json").write_text(json.dumps({"generation": g, **row}))
            record(folder / "metrics.json")
    rows = run_evidence(params, tmp_path / "reports/evidence")
    assert [r["claim"] for r in rows] == ["c"] and rows[0]["seeds"] == 2
    assert rows[0]["mean"] > 0 and rows[0]["sd"] == pytest.approx(0.0, abs=1e-12)
    text = (tmp_path / "reports/evidence/evidence.md").read_text()
    assert "`c` (cluster_efficiency at matched synaptic_efficiency): **" in text
    assert "usable range: synaptic efficiency 1–4×, both arms within 5 pp" in text
    assert "environmental-factor sweep" in text.lower()
    assert (tmp_path / "reports/evidence/sweep.png").stat().st_size > 0


def _snakemake_dag(project, target: str) -> set[tuple]:
    return snakemake_dag(project, target)


def test_evidence_target_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default(tmp_path):
    project = make_project(tmp_path / "p", _seeded(), git=False)
    assert not (project / "pipelines/evidence").exists()  # rendered only on request: DVC collects every dvc.yaml
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "evidence"], cwd=project)
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project, "evidence")
    snake = _snakemake_dag(project, "evidence")
    # code stages, prepare, ctl: 2 seeds × (ancestor + 2 generations × 4 steps + gen-0 evaluate),
    # trt: 2 seeds × 2 generations × 4 steps, the evidence stage
    steps = {j[0] for j in dvc}
    assert steps == {"code", "prepare", "stress_train", "encode", "synthesize", "retrain", "evaluate", "evidence"}
    assert len([j for j in dvc if j[0] != "code"]) == 1 + 2 * (1 + 1 + 2 * 4) + 2 * 2 * 4 + 1
    assert dvc == snake
    # plain `dvc repro` (the root dvc.yaml and its upstream) and Snakemake's default target leave it out
    default = _snakemake_dag(project, "all")
    assert not any(j[0] == "evidence" or "ctl_s" in j[1] for j in default)
    text = root_stages_text(project)  # no stage, command or output of the evidence set
    assert not [t for t in text if "evidence" in t or "ctl_s0" in t], text


def test_the_committed_evidence_set_has_the_seeds_scale_and_cost_the_issue_asks():
    import sys

    from conftest import ROOT

    from evosynth.pipeline.params import load_params
    from evosynth.pipeline.seeds import FAMILIES, members

    params = load_params(ROOT / "params.yaml")
    evidence, families = params["evidence"], params[FAMILIES]
    arms = {c[r] for c in evidence["claims"].values() for r in ("treatment", "control")}
    for name in arms | set(evidence["sweep"]):
        spec = families[name]
        assert not spec["default"] and spec["data"] == {"train_size": None, "test_size": None}, name
        assert len(spec["seeds"]) >= (3 if name in evidence["sweep"] else 5), name
    for name in arms:  # every budget-mode claim arm is asked to pass 100x synaptic efficiency by its last generation
        spec = families[name]  # (a literal-mode arm shrinks at its method's own rate: the report prints what it reached)
        if spec["environment"]["mode"] == "budget":
            assert spec["environment"]["factor"] ** -spec["generations"] >= evidence["target_efficiency"] >= 100, name
    assert any(families[n]["environment"]["mode"] == "budget" for n in arms)
    assert sorted(families[n]["environment"]["factor"] for n in evidence["sweep"]) == [0.2, 0.4, 0.6, 0.8, 0.9, 0.95]
    assert {tuple(families[n]["generations"] for n in evidence["sweep"])} == {(families[evidence["sweep"][0]]["generations"],) * 6}
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from evidence_cost import NATIVE_REFERENCE, REFERENCE, chains_cost, plan_cost
    finally:
        sys.path.pop(0)
    # at the papers' rates the set no longer fits one session: it runs as groups of chains (an upper bound:
    # every epoch costed as a dense one). Under portable numerics (the default) each family's chains fit the
    # 2.5 h a run may start with and the whole set 13 h; the same plan natively within 5 h.
    assert plan_cost(params, *NATIVE_REFERENCE)["wall_s"] <= 5 * 3600
    assert plan_cost(params, *REFERENCE)["wall_s"] <= 13 * 3600
    for name in arms | set(evidence["sweep"]):
        assert chains_cost(params, list(members(params, name)), *REFERENCE)["wall_s"] <= 2.5 * 3600, name


@pytest.mark.slow
def test_snakemake_evidence_target_runs_every_seed_from_its_own_ancestor(tmp_path):
    project = make_project(tmp_path / "p", _seeded(), git=False)
    run([str(BIN / "snakemake"), "-c2", "evidence"], cwd=project)
    metrics = {exp: json.loads((project / f"results/{exp}/gen{g}/metrics.json").read_text())
               for exp, g in (("ctl_s0", 0), ("ctl_s1", 0), ("trt_s0", 2), ("trt_s1", 2))}
    # a seed changes the ancestor's training and the offspring's sampling
    assert metrics["ctl_s0"]["accuracy"] != metrics["ctl_s1"]["accuracy"]
    assert metrics["trt_s0"]["synapses"] != metrics["trt_s1"]["synapses"]
    assert not (project / "results/trt_s0/gen0").exists()  # the treatment starts from ctl_s0's ancestor
    text = (project / "reports/evidence/evidence.md").read_text()
    assert re.search(r"- `c` \(cluster_efficiency at matched synaptic_efficiency\): \*\*(supported|contradicted|inconclusive"
                     r"|negligible|not testable here)\*\*.*; usable range: ", text)
