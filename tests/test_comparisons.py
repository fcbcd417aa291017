"""The compare stage: a claim holds only if the metric improves within the accuracy tolerance."""

import csv

from evosynth.reporting.comparisons import comparison_report, per_generation, verdict


def _rows(accuracies, efficiencies, member=None):
    return [
        {"generation": g, "accuracy": a, "synaptic_efficiency": e, "cluster_efficiency": 1.0,
         "mac_reduction": 1.0, **({"member": member} if member is not None else {})}
        for g, (a, e) in enumerate(zip(accuracies, efficiencies))
    ]


SPEC = {"metric": "synaptic_efficiency", "tolerance": 0.01, "claim": "x", "treatment": "t", "control": "c"}


def test_population_counts_as_its_mean_member():
    rows = _rows([0.9, 0.8], [1, 2], member=0) + _rows([0.9, 0.6], [1, 4], member=1)
    assert per_generation(rows)[1]["accuracy"] == 0.7 and per_generation(rows)[1]["synaptic_efficiency"] == 3


def test_claim_holds_when_better_within_tolerance():
    t, c = per_generation(_rows([0.9, 0.895], [1, 5])), per_generation(_rows([0.9, 0.90], [1, 4]))
    assert verdict(SPEC, t, c)["holds"]


def test_claim_fails_on_accuracy_just_past_the_tolerance():
    t, c = per_generation(_rows([0.9, 0.889], [1, 5])), per_generation(_rows([0.9, 0.90], [1, 4]))
    v = verdict(SPEC, t, c)
    assert not v["holds"] and "accuracy is more than 1.0% below" in v["outcome"]


def test_claim_fails_when_metric_not_higher():
    t, c = per_generation(_rows([0.9, 0.95], [1, 4])), per_generation(_rows([0.9, 0.90], [1, 4]))
    assert verdict(SPEC, t, c)["outcome"] == "does not hold: synaptic_efficiency is not higher"


def test_verdict_at_last_common_generation(tmp_path):
    t, c = _rows([0.9, 0.9, 0.9], [1, 2, 9]), _rows([0.9, 0.9], [1, 3])
    results = comparison_report({"demo": SPEC}, {"t": t, "c": c}, tmp_path / "c.md", tmp_path / "c.csv",
                                tmp_path / "c.png", "title")
    assert results[0]["generation"] == 1 and not results[0]["holds"]
    assert "**Measured at generation 1: the claim does not hold" in (tmp_path / "c.md").read_text()
    assert next(csv.DictReader(open(tmp_path / "c.csv")))["holds"] == "False"
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_verdict_reports_cluster_efficiencies_whatever_the_metric(tmp_path):
    """The sexual paper's claim is about synaptic and cluster efficiency; both are stated."""
    t = [{**r, "cluster_efficiency": 3.83} for r in _rows([0.9, 0.9], [1, 9])]
    c = [{**r, "cluster_efficiency": 6.18} for r in _rows([0.9, 0.9], [1, 3])]
    results = comparison_report({"demo": SPEC}, {"t": t, "c": c}, tmp_path / "c.md", tmp_path / "c.csv",
                                tmp_path / "c.png", "title")
    assert results[0]["treatment_cluster_efficiency"] == 3.83 and results[0]["control_cluster_efficiency"] == 6.18
    assert "cluster efficiency 3.83× vs 6.18×" in (tmp_path / "c.md").read_text()
    row = next(csv.DictReader(open(tmp_path / "c.csv")))
    assert float(row["control_cluster_efficiency"]) == 6.18 and float(row["treatment_synaptic_efficiency"]) == 9
