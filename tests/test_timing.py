"""The timing harness: networks timed interleaved in rounds, speed-ups paired by round.

Its test: two copies of one network read 1.00× within the reported spread,
and a network with a fraction of the MACs reads faster, outside it.
"""

from __future__ import annotations

import pytest
import torch

from evosynth.analysis.export import export_onnx
from evosynth.analysis.runtime import config_key, runtime_rows, spread, time_networks
from evosynth.analysis.timing import interleave, latency, speedup, within
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks, full_masks


def test_every_round_visits_every_network_in_a_random_order():
    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abcd"}
    samples = interleave(runners, rounds=12, per_round=3, warmup=2, seed=1)
    assert all(len(s) == 12 and all(len(turn) == 3 for turn in s) for s in samples.values())
    timed = calls[2 * 4:]  # after the warm-up, each visit is one untimed and 3 timed calls of one network
    assert len(timed) == 12 * 4 * 4
    assert all(len(set(timed[i:i + 4])) == 1 for i in range(0, len(timed), 4))
    visits = [timed[i] for i in range(0, len(timed), 4)]
    rounds = [tuple(visits[i:i + 4]) for i in range(0, len(visits), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)
    assert len(set(rounds)) > 3  # the order changes from round to round
    with pytest.raises(ValueError):
        interleave(runners, rounds=0, per_round=1, warmup=0)


def test_sessions_are_built_in_a_random_order_and_returned_in_the_callers(monkeypatch, tmp_path):
    from evosynth.analysis import runtime

    built = []
    monkeypatch.setattr(runtime, "onnx_runner", lambda path, batch, threads: built.append(path) or (lambda: None))
    networks = {name: {"onnx": name} for name in "abcdefgh"}
    timed = time_networks(networks, repeats=2, warmup=0, rounds=2, configs=(("onnxruntime", 1, 1),))
    assert sorted(built) == list("abcdefgh") and built != list("abcdefgh")  # no network is always built first
    assert list(timed) == list("abcdefgh")


def test_speedup_pairs_rounds_and_reports_spread():
    base = [[2.0, 2.2, 1.8], [4.0, 4.0, 4.0], [2.0, 2.0, 2.0]]  # round 2: the whole machine was slow
    fast = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.1], [1.0, 1.1, 0.9]]
    result = speedup(base, fast)
    assert result["median"] == pytest.approx(2.0)
    assert result["p10"] <= result["median"] <= result["p90"] and result["low"] <= 2.0 <= result["high"]
    assert latency(fast)["runs"] == 9 and latency(fast)["median_ms"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        speedup(base, fast[:2])


def test_rows_use_the_paired_speedup_and_show_its_spread():
    key = config_key("onnxruntime", 1)
    gens = [{"generation": g, "accuracy": 0.9, "macs": macs, "size_mb": 1.0, "architecture": "a",
             **{k: {"fps": 1.0, "rounds_ms": rounds} for k in (key, "pytorch_1thread")}}
            for g, macs, rounds in ((0, 1000, [[3.0], [6.0], [3.0]]), (1, 250, [[1.0], [2.0], [1.0]]))]
    rows = runtime_rows(gens)
    assert rows[1][f"{key}_speedup"] == pytest.approx(3.0)  # not the FPS ratio (1.0)
    assert spread(rows[1], key) == "3.00× [3.00–3.00]" and rows[1]["mac_reduction"] == 4


def _network(folder, name, conv1, conv2):
    torch.manual_seed(0)
    model = LeNet5()
    masks = full_masks(model)
    masks["conv1"][conv1:] = False
    masks["conv2"][conv2:] = False
    apply_masks(model, masks)
    small = compact(model, masks, (1, 28, 28)).model
    export_onnx(small, (1, 28, 28), folder / f"{name}.onnx")
    return {"onnx": folder / f"{name}.onnx", "model": small, "input_shape": (1, 28, 28)}


def test_two_copies_of_one_network_read_one_within_the_interval_and_a_smaller_one_does_not(tmp_path):
    ancestor = _network(tmp_path, "ancestor", 20, 50)
    networks = {"ancestor": ancestor, "copy": _network(tmp_path, "copy", 20, 50),
                "small": _network(tmp_path, "small", 2, 3)}
    timed = time_networks(networks, repeats=120, warmup=20, rounds=12, configs=(("onnxruntime", 1, 1),))
    key = config_key("onnxruntime", 1)
    same = speedup(timed["ancestor"][key]["rounds_ms"], timed["copy"][key]["rounds_ms"])
    assert within(1.0, same), same
    assert 0.8 < same["median"] < 1.25, same
    faster = speedup(timed["ancestor"][key]["rounds_ms"], timed["small"][key]["rounds_ms"])
    assert not within(1.0, faster) and faster["median"] > 1.5, faster
