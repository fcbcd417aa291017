"""No artifact is loaded without a provenance record that names it with its sha256, and a step's outputs
and its record appear together or not at all, also on a full disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY_PARAMS, engine_env

from evosynth.artifacts import (
    all_or_nothing,
    atomic_path,
    load_checkpoint,
    provenance,
    read_json,
    save_checkpoint,
    write_json,
)
from evosynth.errors import ArtifactError


def _step(folder: Path) -> None:
    """What a training step leaves: model.pt, train_log.json and the record naming both."""
    save_checkpoint(folder / "model.pt", "model", {"weights": torch.arange(100.0)})
    write_json(folder / "train_log.json", {"epochs": [1]})
    outputs = [folder / "model.pt", folder / "train_log.json"]
    write_json(folder / "retrain.provenance.json", provenance("retrain", {}, outputs))


def _flip(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:80] + bytes([raw[80] ^ 0xFF]) + raw[81:])


def _load_model(folder: Path):
    return load_checkpoint(folder / "model.pt", "model")


def _load_log(folder: Path):
    return read_json(folder / "train_log.json")


NO_RECORD = "no provenance record beside it names this file"
# (id, what is done to a finished step's folder, loader, words of the refusal)
CASES = [
    ("byte-flipped model.pt, record deleted",
     lambda f: (_flip(f / "model.pt"), (f / "retrain.provenance.json").unlink()), _load_model, NO_RECORD),
    ("intact model.pt, record deleted", lambda f: (f / "retrain.provenance.json").unlink(), _load_model, NO_RECORD),
    ("train_log.json, record deleted", lambda f: (f / "retrain.provenance.json").unlink(), _load_log, NO_RECORD),
    ("a record of another step only",
     lambda f: ((f / "retrain.provenance.json").rename(f / "other.provenance.json"),
                _rewrite_record(f / "other.provenance.json", lambda outputs: {})), _load_model, NO_RECORD),
    ("a record that names another file",
     lambda f: _rewrite_record(f / "retrain.provenance.json", lambda o: {k.replace("model.pt", "genome.pt"): v
                                                                          for k, v in o.items()}),
     _load_model, NO_RECORD),
    ("garbage record", lambda f: (f / "retrain.provenance.json").write_bytes(b"\xff\x00garbage"), _load_model,
     "retrain.provenance.json: provenance record unreadable"),
    ("model.pt rewritten by a step that then died: its old record is gone",
     lambda f: save_checkpoint(f / "model.pt", "model", {"weights": torch.zeros(3)}), _load_model, NO_RECORD),
    ("... and the old sibling is no longer vouched for",
     lambda f: save_checkpoint(f / "model.pt", "model", {"weights": torch.zeros(3)}), _load_log, NO_RECORD),
    ("a checkpoint copied in from elsewhere",
     lambda f: (f / "model.pt").write_bytes(_other_checkpoint(f)), _load_model, "sha256 mismatch"),
]


def _rewrite_record(record: Path, change) -> None:
    data = json.loads(record.read_text())
    data["outputs"] = change(data["outputs"])
    record.write_text(json.dumps(data))


def _other_checkpoint(folder: Path) -> bytes:
    other = folder / "elsewhere"
    other.mkdir()
    save_checkpoint(other / "model.pt", "model", {"weights": torch.ones(100)})
    return (other / "model.pt").read_bytes()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_an_artifact_without_a_matching_record_is_refused(tmp_path, case):
    _, damage, load, words = case
    _step(tmp_path)
    load(tmp_path)  # intact: loads
    damage(tmp_path)
    with pytest.raises(ArtifactError, match=words):
        load(tmp_path)


def test_a_failing_step_leaves_none_of_its_outputs(tmp_path):
    (tmp_path / "keep.json").write_text("{}")  # not written by the step: untouched
    with pytest.raises(RuntimeError, match="killed"):
        with all_or_nothing():
            _step(tmp_path)
            raise RuntimeError("killed after the record")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]
    with all_or_nothing():  # a step that succeeds keeps everything
        _step(tmp_path)
    _load_model(tmp_path)


def test_the_cli_runs_each_step_all_or_nothing(tmp_path, monkeypatch, capsys):
    """A step that fails after writing its first output (here: the prepared file) leaves nothing."""
    import evosynth.data.sources as sources
    from evosynth.pipeline.cli import main

    def card_fails(path, data):
        raise ArtifactError(f"{path}: could not be written (No space left on device); free space there and rerun")

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    monkeypatch.setattr(sources, "write_json", card_fails)
    assert main(["prepare", "--dataset", "digits", "--out-dir", "out"]) == 1
    assert capsys.readouterr().err.strip() == (
        "evosynth prepare: error: out/digits.card.json: could not be written (No space left on device);"
        " free space there and rerun")
    assert list((tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------------------ a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A 192 KiB tmpfs mounted by the test (root only); skipped where it cannot be made."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip() or made.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_torch_on_a_full_disk_is_one_line_and_leaves_nothing(small_disk):
    big = {"weights": torch.zeros(100_000)}
    with pytest.raises(ArtifactError) as error:  # torch's zip writer: "enforce fail at inline_container.cc"
        with atomic_path(small_disk / "model.ts") as tmp:  # as the export step writes TorchScript
            torch.save(big, tmp)
    assert str(error.value) == (f"{small_disk}/model.ts: could not be written (the write failed, is the device"
                                " full?); free space there and rerun")
    with pytest.raises(ArtifactError) as error:  # a checkpoint: serialised in memory, then written
        save_checkpoint(small_disk / "model.pt", "model", big)
    assert str(error.value) == (f"{small_disk}/model.pt: could not be written (No space left on device);"
                                " free space there and rerun")
    assert list(small_disk.iterdir()) == []


def test_disk_full_after_the_model_but_before_the_record_leaves_nothing(small_disk):
    with pytest.raises(ArtifactError, match=r"retrain.provenance.json: could not be written \(No space left"):
        with all_or_nothing():
            save_checkpoint(small_disk / "model.pt", "model", {"weights": torch.zeros(1000)})  # fits
            write_json(small_disk / "train_log.json", {"epochs": [1]})
            write_json(small_disk / "retrain.provenance.json", {"padding": "x" * 400_000})  # does not
    assert list(small_disk.iterdir()) == []


def test_prepare_on_a_full_disk_exits_with_one_line_and_no_partial_artifact(tmp_path, small_disk):
    """The real command in its own process: the prepared digits (1.4 MB) do not fit in 192 KiB."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    env = engine_env() | {"EVOSYNTH_WARM": "0"}
    result = subprocess.run([sys.executable, "-m", "evosynth.pipeline.cli", "prepare", "--dataset", "digits",
                             "--out-dir", str(small_disk / "prepared")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr == (f"evosynth prepare: error: {small_disk}/prepared/digits.npz: could not be written"
                             " (No space left on device); free space there and rerun\n")
    assert list((small_disk / "prepared").iterdir()) == []


# ------------------------------------------------------------------------------ prepared data
@pytest.mark.parametrize("damage, words", [
    (lambda f: (f / "digits.provenance.json").unlink(), NO_RECORD),
    (lambda f: (_flip(f / "digits.npz"), (f / "digits.provenance.json").unlink()), NO_RECORD),
    (lambda f: _flip(f / "digits.npz"), "digits.npz: sha256 mismatch"),
], ids=["record deleted", "byte-flipped and record deleted", "byte-flipped"])
def test_a_prepared_file_is_used_only_with_its_record(tmp_path, monkeypatch, capsys, damage, words):
    from evosynth.pipeline.cli import main

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    assert main(["prepare", "--dataset", "digits", "--out-dir", "data"]) == 0
    damage(tmp_path / "data")
    capsys.readouterr()
    train = ["train", "--experiment", "tiny", "--generation", "0", "--data", "data/digits.npz", "--out-dir", "gen0"]
    assert main(train) == 1
    stderr = capsys.readouterr().err.strip()
    assert "\n" not in stderr and stderr.startswith("evosynth train: error: data/digits.npz: ") and words in stderr
    assert not (tmp_path / "gen0").exists() or list((tmp_path / "gen0").iterdir()) == []


def test_a_full_disk_anywhere_in_a_step_is_one_line(tmp_path, monkeypatch, capsys):
    """ENOSPC raised outside the artifact writers (a library writing its own file) is one line too."""
    import evosynth.pipeline.steps.prepare as step
    from evosynth.pipeline.cli import main

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "/scratch/cache.bin")

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    monkeypatch.setattr(step, "prepare", full)
    assert main(["prepare", "--dataset", "digits", "--out-dir", "out"]) == 1
    assert capsys.readouterr().err == ("evosynth prepare: error: /scratch/cache.bin: could not be written"
                                       " (No space left on device); free space there and rerun\n")


def test_a_prepared_file_with_bad_labels_is_refused_at_load(tmp_path):
    """A file prepared before the labels were checked: a stray 255 would give a 256-way network."""
    import numpy as np
    from conftest import record

    from evosynth.data.prepared import load_prepared
    from evosynth.errors import DataError

    x = np.zeros((4, 1, 8, 8), np.uint8)
    np.savez(tmp_path / "old.npz", x_train=x, y_train=np.array([0, 1, 255, 1]), x_test=x, y_test=np.array([0, 1, 0, 1]))
    record(tmp_path / "old.npz")
    with pytest.raises(DataError, match=r"old.npz: y_train: labels 0, 1, 255 are not 0..K-1: .*; prepare it again$"):
        load_prepared(tmp_path / "old.npz")
