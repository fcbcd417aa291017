"""Exports and the runtime stage: ONNX/TorchScript equal the network; timings and Table 3 rows."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import engine_env

from evosynth.analysis.export import export_onnx, export_torchscript
from evosynth.analysis.runtime import CONFIGS, config_key, measure_onnx, measure_torch, runtime_rows
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks, full_masks


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    model = LeNet5()
    masks = full_masks(model)
    masks["conv2"][10:] = False
    apply_masks(model, masks)
    small = compact(model, masks, (1, 28, 28)).model
    export_onnx(small, (1, 28, 28), folder / "m.onnx")
    export_torchscript(small, (1, 28, 28), folder / "m.ts")
    return model, small, folder


def test_exports_compute_what_the_network_computes(exported):
    import onnxruntime as ort

    model, small, folder = exported
    x = torch.randn(5, 1, 28, 28)
    expected = model(x).detach().numpy()
    got_onnx = ort.InferenceSession(str(folder / "m.onnx")).run(None, {"image": x.numpy()})[0]
    got_ts = torch.jit.load(str(folder / "m.ts"))(x).detach().numpy()
    assert np.abs(got_onnx - expected).max() < 1e-4 and np.abs(got_ts - expected).max() < 1e-5
    assert (folder / "m.onnx").stat().st_size < 0.5 * 4 * 430_500  # compacted: conv2 has 10 filters


def test_timings_are_medians_with_spread(exported):
    _, small, folder = exported
    for result in (measure_onnx(folder / "m.onnx", 1, 1, repeats=7, warmup=1),
                   measure_torch(small, (1, 28, 28), 1, 1, repeats=7, warmup=1)):
        assert result["p10_ms"] <= result["median_ms"] <= result["p90_ms"]
        assert result["fps"] == pytest.approx(1e3 / result["median_ms"]) and result["runs"] == 7


def test_table3_rows_speedup_against_generation_0():
    def gen(g, macs, fps):
        return {"generation": g, "accuracy": 0.9, "macs": macs, "size_mb": 1.0, "architecture": "a",
                **{config_key(e, t): {"fps": fps * (1 + i)} for i, (e, t) in enumerate(CONFIGS)}}

    rows = runtime_rows([gen(0, 1000, 100), gen(1, 250, 300)])
    assert rows[1]["mac_reduction"] == 4 and rows[1]["onnxruntime_1thread_speedup"] == pytest.approx(3)
    assert rows[0]["best_1thread_speedup"] == 1


def test_device_mode_needs_only_onnxruntime(exported, tmp_path):
    _, _, folder = exported
    probe = (
        "import sys; from evosynth.pipeline.cli import main; code = main(sys.argv[1:]);"
        " print('TORCH' if 'torch' in sys.modules else 'NO-TORCH'); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "runtime", "--model", str(folder / "m.onnx"), "--repeats", "5",
         "--warmup", "1", "--json", str(tmp_path / "r.json")],
        cwd=tmp_path, env=engine_env(), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("NO-TORCH") and "FPS" in result.stdout
    assert set(json.loads((tmp_path / "r.json").read_text())["onnxruntime"]) == {"1 thread(s)", "all thread(s)"}
