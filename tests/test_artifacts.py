"""Atomic writes and verified loading: damaged artifacts are reported, never used."""

import json
from pathlib import Path

import pytest
import torch

from evosynth.artifacts import (
    atomic_path,
    load_checkpoint,
    provenance,
    read_json,
    save_checkpoint,
    write_json,
)
from evosynth.errors import ArtifactError


def _artifacts(folder: Path) -> Path:
    save_checkpoint(folder / "model.pt", "model", {"weights": torch.arange(1000.0)})
    write_json(folder / "metrics.json", {"accuracy": 0.9})
    write_json(folder / "step.provenance.json", provenance("step", {}, [folder / "model.pt", folder / "metrics.json"]))
    return folder / "model.pt"


def test_intact_artifacts_load(tmp_path):
    path = _artifacts(tmp_path)
    assert torch.equal(load_checkpoint(path, "model")["weights"], torch.arange(1000.0))
    assert read_json(tmp_path / "metrics.json") == {"accuracy": 0.9}


@pytest.mark.parametrize("damage", ["truncate", "flip", "swap"])
def test_damaged_checkpoint_is_reported_with_expected_and_found(tmp_path, damage):
    path = _artifacts(tmp_path)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        path.write_bytes(raw[:100] + bytes([raw[100] ^ 0xFF]) + raw[101:])
    else:  # a valid checkpoint of another generation put in its place
        other = _artifacts(tmp_path / "other")
        save_checkpoint(other, "model", {"weights": torch.zeros(3)})
        path.write_bytes(other.read_bytes())
    with pytest.raises(ArtifactError, match=r"model.pt: sha256 mismatch .*expected [0-9a-f]{16}… as recorded in step.provenance.json, found [0-9a-f]{16}…"):
        load_checkpoint(path, "model")


def test_edited_metrics_are_reported(tmp_path):
    _artifacts(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.99}))
    with pytest.raises(ArtifactError, match="metrics.json: sha256 mismatch"):
        read_json(tmp_path / "metrics.json")


def test_wrong_kind_and_unrecorded_garbage(tmp_path):
    path = _artifacts(tmp_path)
    with pytest.raises(ArtifactError, match="expected a 'genome' checkpoint, found 'model'"):
        load_checkpoint(path, "genome")
    (tmp_path / "loose.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="loose.pt: no provenance record beside it names this file"):
        load_checkpoint(tmp_path / "loose.pt", "model")
    _record(tmp_path / "loose.pt")
    with pytest.raises(ArtifactError, match="unreadable checkpoint"):
        load_checkpoint(tmp_path / "loose.pt", "model")


def _record(path: Path) -> None:
    """A provenance record naming ``path`` with its true sha256 (a step that wrote it)."""
    write_json(path.parent / f"{path.stem}.provenance.json", provenance("step", {}, [path]))


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"kind": "model", "x": Evil()}, tmp_path / "evil.pt")
    _record(tmp_path / "evil.pt")  # even when a record vouches for it
    with pytest.raises(ArtifactError, match="unreadable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt", "model")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
