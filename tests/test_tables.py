"""Report tables: efficiencies, the synthesized-network pick, quoted vs measured rows, comparisons."""

import csv
import io
import re
from pathlib import Path

import pytest

from evosynth.reporting.cluster import CLUSTER_MNIST_LENET5, cluster_table
from evosynth.reporting.selection import (
    compare_to_baselines,
    pareto_front,
    synthesized_generation,
    with_efficiencies,
)
from evosynth.reporting.stressednets import (
    STRESSEDNETS_TABLE1,
    STRESSEDNETS_TABLE2,
    STRESSEDNETS_TABLE3,
    stressednets_table1,
    stressednets_table3,
    stressednets_table4,
)
from evosynth.reporting.table import MeasuredRow, QuotedRow, Table

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"


def gen(g, accuracy, synapses=1000, kernels=40, **extra):
    """A metrics row; its validation accuracy (what decides) is its test accuracy unless given."""
    return {"generation": g, "accuracy": accuracy, "val_accuracy": accuracy, "synapses": synapses, "kernels": kernels,
            **extra}


def test_efficiencies_from_known_counts():
    rows = [gen(2, 0.9, 100, 10), gen(0, 0.9, 1000, 40), gen(1, 0.9, 250, 40)]
    done = with_efficiencies(rows)
    assert [r["generation"] for r in done] == [0, 1, 2]
    assert [r["synaptic_efficiency"] for r in done] == [1.0, 4.0, 10.0]
    assert [r["cluster_efficiency"] for r in done] == [1.0, 1.0, 4.0]
    table = cluster_table("evonet", rows, "results/x", quoted=())
    assert "| evonet | 2 | 10.00× | 4.00× | 90.00 | measured | results/x |" in table.markdown()
    with pytest.raises(ValueError, match="generation 0"):
        with_efficiencies(rows[2:])


def test_synthesized_generation_at_the_tolerance_boundary():
    rows = [gen(0, 9000 / 10000), gen(1, 8950 / 10000), gen(2, 8900 / 10000), gen(3, 8899 / 10000)]
    key = "val_accuracy"
    assert synthesized_generation(rows, 0.01, key)["generation"] == 2  # exactly 1 point below counts as within
    assert synthesized_generation(rows, 0.0101, key)["generation"] == 3
    assert synthesized_generation(rows, 0.005, key)["generation"] == 1
    assert synthesized_generation(rows, 0.0, key)["generation"] == 0
    assert synthesized_generation([*rows, gen(4, 0.91)], 0.01, key)["generation"] == 4  # the last one within


def test_measured_and_quoted_rows_cannot_be_confused():
    with pytest.raises(ValueError, match="MeasuredRow has source 'measured'"):
        MeasuredRow("ours", {"error_percent": 1.0}, "results/x", source="quoted")
    with pytest.raises(ValueError, match="QuotedRow has source 'quoted'"):
        QuotedRow("DC", {"error_percent": "0.7"}, "a paper", source="measured")
    with pytest.raises(TypeError, match="printed text"):
        QuotedRow("DC", {"error_percent": 0.7}, "a paper")  # a number re-typed, not copied text
    with pytest.raises(ValueError, match="reference"):
        QuotedRow("DC", {"error_percent": "0.7"}, "")
    with pytest.raises(ValueError, match="reference"):
        MeasuredRow("ours", {}, "")
    ours = MeasuredRow("ours", {"error_percent": 1.0}, "results/x")
    with pytest.raises(TypeError, match="quoted rows"):
        stressednets_table1([ours], quoted=[ours])
    with pytest.raises(TypeError, match="measured rows"):
        stressednets_table1([STRESSEDNETS_TABLE1[0]])
    with pytest.raises(TypeError):
        Table("t", (), ({"method": "x"},))


def test_table1_source_column():
    metrics = {
        "accuracy": 0.988,
        "error_percent": 1.2,
        "weights_percent": 0.8,
        "architecture": "4-7-112-24",
        "synapses_per_layer": {"conv1": 3},
    }
    ours = MeasuredRow.from_metrics("evonet gen 9", metrics, "results/fmnist_evonet/gen9/metrics.json")
    assert "synapses_per_layer" not in ours.values and ours.values["accuracy_percent"] == pytest.approx(98.8)
    table = stressednets_table1([ours])
    records = list(csv.DictReader(io.StringIO(table.csv())))
    assert [r["source"] for r in records] == ["quoted"] * 8 + ["measured"]
    assert all(r["reference"].startswith("StressedNets Table 1") for r in records[:8])
    assert records[-1]["reference"] == "results/fmnist_evonet/gen9/metrics.json"
    markdown = table.markdown()
    assert "| DC [28] | 8.0 | 0.7 | NA | quoted |" in markdown
    assert "| evonet gen 9 | 0.80 | 1.20 | 4-7-112-24 | measured |" in markdown
    assert "\\|W≠0\\|/\\|W\\| %" in markdown  # pipes in a title do not break the Markdown table


def test_table_writes_markdown_and_csv(tmp_path):
    stressednets_table1([]).write(tmp_path / "t1.md", tmp_path / "t1.csv")
    assert (tmp_path / "t1.md").read_text().startswith("**StressedNets Table 1")
    assert (tmp_path / "t1.csv").read_text().splitlines()[0] == (
        "method,weights_percent,error_percent,architecture,source,reference"
    )


def _paper(name):
    path = PAPERS / name
    if not path.is_file():
        pytest.skip(f"{path} is not beside the repository")
    return [" ".join(line.split()) for line in path.read_text().splitlines()]


def test_quoted_stressednets_numbers_are_the_papers_text():
    lines = _paper("stressednets-stress-induced-synthesis.txt")
    for row in (*STRESSEDNETS_TABLE1, *STRESSEDNETS_TABLE2):
        assert " ".join([row.method, *row.values.values()]) in lines, row.method
    for row in STRESSEDNETS_TABLE3:
        numbers = [
            row.values["model_size_mb"],
            row.values["fps"],
            *re.findall(r"\d+\.\d+", row.values["accuracy_percent"]),
        ]
        assert " ".join([row.method, *numbers]) in lines, row.method
    assert any("a 5.5× speed-up" in line for line in lines)


def test_quoted_cluster_numbers_are_the_papers_text():
    lines = _paper("cluster-driven-genetic-encoding.txt")
    for row in CLUSTER_MNIST_LENET5:
        v = row.values
        assert f"{v['generation']} {v['synaptic_efficiency']} {v['accuracy_percent']}" in lines
        if v["cluster_efficiency"] is not None:
            assert f"{v['generation']} {v['cluster_efficiency']} {v['accuracy_percent']}" in lines


def test_table3_speed_up_against_the_ancestor():
    ancestor = MeasuredRow(
        "ancestor", {"fps": 200.0, "model_size_mb": 1.7, "accuracy_percent": 89.6, "host": "h"}, "a"
    )
    small = MeasuredRow(
        "gen 8", {"fps": 500.0, "model_size_mb": 0.1, "accuracy_percent": 89.0, "host": "h"}, "b"
    )
    records = stressednets_table3(ancestor, [small]).records()
    assert [r["speed_up"] for r in records] == [None, "5.5", 1.0, 2.5]
    assert [r["source"] for r in records] == ["quoted", "quoted", "measured", "measured"]


def test_table4_total_weights_classes_by_count():
    table = stressednets_table4({"ancestor": [1.0, 0.5], "PCA-12": [0.5, 0.5]}, [10, 30], "reports/x")
    records = table.records()
    assert records[0]["total"] == pytest.approx(62.5) and records[0]["class_0"] == 100.0
    assert records[1]["total"] == pytest.approx(50.0)
    assert {r["source"] for r in records} == {"measured"}


def test_pareto_front():
    rows = [
        {"c": 10, "accuracy": 0.9},
        {"c": 5, "accuracy": 0.9},
        {"c": 5, "accuracy": 0.8},
        {"c": 3, "accuracy": 0.7},
        {"c": 8, "accuracy": 0.95},
    ]
    assert [(r["c"], r["accuracy"]) for r in pareto_front(rows, "c")] == [(3, 0.7), (5, 0.9), (8, 0.95)]


def test_comparison_names_the_winner_per_axis():
    runs = {
        "evonet": [
            gen(0, 0.90, 1000, filters=70),
            gen(1, 0.90, 500, filters=70),
            gen(2, 0.895, 250, filters=60),
        ],
        "magnitude": [
            gen(0, 0.90, 1000, filters=70),
            gen(1, 0.905, 600, filters=70),
            gen(2, 0.895, 200, filters=70),
            gen(3, 0.85, 100, filters=70),
        ],
        "l1_filter": [
            gen(0, 0.90, 1000, filters=70),
            gen(1, 0.88, 450, filters=35),
            gen(2, 0.85, 200, filters=20),
        ],
    }
    origins = {name: f"results/{name}" for name in runs}
    table = compare_to_baselines(runs, "evonet", origins, tolerance=0.01, key="val_accuracy")
    records = table.records()
    assert [(r["method"], r["matched_generation"], r["generation"]) for r in records] == [
        ("evonet", 1, 1),
        ("magnitude", 1, 1),
        ("l1_filter", 1, 1),
        ("evonet", 2, 2),
        ("magnitude", 2, 2),
        ("l1_filter", 2, 2),
    ]
    assert [round(r["accuracy_delta"], 6) for r in records] == [0, 0.5, -2, 0, 0, -4.5]
    assert {r["source"] for r in records} == {"measured"}
    notes = table.notes
    assert notes[0] == (
        "Living synapses: magnitude wins — fewest synapses within 1 pp of the ancestor's val_accuracy"
        " (test accuracy shown, the ancestor's 90.00%):"
        " magnitude 200 at 89.50%, evonet 250 at 89.50%, l1_filter 1,000 at 90.00%."
    )
    assert (
        notes[1]
        == "Pareto front of accuracy vs living synapses (4 points): evonet 1, magnitude 3, l1_filter 0."
    )
    assert notes[2].startswith("Living filters: evonet wins — ") and notes[2].endswith(
        "magnitude 70 at 90.50%, l1_filter 70 at 90.00%."
    )
    assert (
        "evonet is more accurate than magnitude in 0 of 2 generations, equal in 1, less accurate in 1"
        in notes[4]
    )
    assert (
        "evonet is more accurate than l1_filter in 2 of 2 generations, equal in 0, less accurate in 0"
        in notes[5]
    )
    with pytest.raises(ValueError, match="filters"):
        compare_to_baselines({"evonet": [gen(0, 0.9)]}, "evonet", {"evonet": "r"}, 0.01, "val_accuracy")
