"""The validation part, and decisions that read it: the test set is reported, never decides.

The validation part is carved from the training images by prepare (stratified,
seeded, recorded in the data card); evaluate writes ``accuracy`` (test) and
``val_accuracy``; the adaptive environment, the synthesized network and the
picks' selection read ``val_accuracy``. End to end: permuting the TEST labels
of a tiny chain with the adaptive environment leaves every mask, weight and
decision record byte-identical and the selected generation unchanged.
"""

from __future__ import annotations

import copy
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_PARAMS, record

from evosynth.artifacts import read_json
from evosynth.data.prepared import load_prepared, validation_split
from evosynth.data.sources import prepare
from evosynth.errors import ArtifactError
from evosynth.reporting.selection import synthesized_generation
from evosynth.scores import DECISION, TEST, VALIDATION, decision_value


def _unique_images(labels: np.ndarray, offset: int = 0) -> np.ndarray:
    """8×8 uint8 images whose first two pixels spell their index (base 256): each image is findable."""
    n = len(labels)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    index = np.arange(n) + offset
    x[:, 0, 0], x[:, 0, 1] = index // 256, index % 256
    return x


def _write_npz(path: Path, y_train: np.ndarray, y_test: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"x_train": _unique_images(y_train), "y_train": y_train,
              "x_test": _unique_images(y_test, offset=len(y_train)), "y_test": y_test}
    np.savez(path, **arrays)
    return arrays


# --- the split ---------------------------------------------------------------------------------------


def test_the_validation_part_is_a_stratified_seeded_share_of_the_training_images(tmp_path):
    # unequal classes: 50, 30, 13 and 7 training images
    y_train = np.repeat(np.arange(4), [50, 30, 13, 7]).astype(np.int64)
    np.random.default_rng(2).shuffle(y_train)
    y_test = np.arange(40, dtype=np.int64) % 4
    raw = _write_npz(tmp_path / "raw.npz", y_train, y_test)
    spec = {"source": "npz", "root": str(tmp_path / "raw.npz"), "validation": {"fraction": 0.2, "seed": 3}}
    card = prepare(spec, tmp_path / "p.npz", tmp_path / "p.card.json")
    with np.load(tmp_path / "p.npz") as f:
        out = {k: f[k] for k in f.files}
    # which published training images went where: the first two pixels are their index
    found = out["x_val"][:, 0, 0, 0].astype(np.int64) * 256 + out["x_val"][:, 0, 0, 1]
    kept = out["x_train"][:, 0, 0, 0].astype(np.int64) * 256 + out["x_train"][:, 0, 0, 1]
    assert sorted([*found, *kept]) == list(range(len(y_train)))  # a partition of the training images
    assert np.array_equal(out["y_val"], y_train[found]) and np.array_equal(out["y_train"], y_train[kept])
    assert list(found) == sorted(found)  # in file order
    per_class = [round(0.2 * n) for n in (50, 30, 13, 7)]  # 10, 6, 3, 1
    assert np.bincount(out["y_val"], minlength=4).tolist() == per_class
    for key in ("x_test", "y_test"):  # the test part untouched
        assert np.array_equal(out[key][:, 0] if key == "x_test" else out[key], raw[key])
    validation = card["validation"]
    assert validation == {"fraction": 0.2, "seed": 3, "count": sum(per_class), "per_class": per_class,
                          "indices_sha256": hashlib.sha256(np.asarray(found, np.int64).tobytes()).hexdigest()}
    assert card["train"]["count"] == len(y_train) - sum(per_class) and card["test"]["count"] == 40
    # another seed draws other images; fraction 0 leaves the file as it was (no validation part)
    other, _ = validation_split(raw, 0.2, 4)
    assert list(other["x_val"][:, 0, 0].astype(np.int64) * 256 + other["x_val"][:, 0, 1]) != list(found)
    same, none = validation_split(raw, 0.0, 3)
    assert none is None and same is raw


def test_load_prepared_keeps_the_whole_validation_part_out_of_training(tmp_path):
    y_train = (np.arange(300) % 3).astype(np.int64)
    _write_npz(tmp_path / "raw.npz", y_train, (np.arange(60) % 3).astype(np.int64))
    spec = {"source": "npz", "root": str(tmp_path / "raw.npz"), "validation": {"fraction": 0.1, "seed": 0}}
    prepare(spec, tmp_path / "p.npz", tmp_path / "p.card.json")
    record(tmp_path / "p.npz", tmp_path / "p.card.json")
    split = load_prepared(tmp_path / "p.npz", train_size=100, test_size=20, seed=1)
    assert len(split.y_train) == 100 and len(split.y_test) == 20 and len(split.y_val) == 30  # val: never subset
    seen = {tuple(row) for row in split.x_train[:, 0, 0, :2].tolist()}
    assert not seen & {tuple(row) for row in split.x_val[:, 0, 0, :2].tolist()}  # no validation image trained on


# --- decisions read the key they are given --------------------------------------------------------


def _row(generation: int, test: float, val: float) -> dict:
    return {"generation": generation, TEST: test, VALIDATION: val, "synapses": 100 // (generation + 1)}


def test_the_synthesized_generation_follows_validation_accuracy_not_test_accuracy():
    # test accuracy says generation 3 is within 1 pp; validation accuracy says only generation 1 is
    rows = [_row(0, 0.900, 0.880), _row(1, 0.880, 0.875), _row(2, 0.870, 0.860), _row(3, 0.893, 0.850)]
    assert DECISION == VALIDATION
    assert synthesized_generation(rows, 0.01, DECISION)["generation"] == 1
    assert synthesized_generation(rows, 0.01, TEST)["generation"] == 3  # the key is a parameter
    with pytest.raises(ArtifactError, match="no 'val_accuracy' to decide on"):
        synthesized_generation([{**r, VALIDATION: None} for r in rows], 0.01, DECISION)
    with pytest.raises(ArtifactError, match="generation 2: no 'val_accuracy'"):
        decision_value({TEST: 0.9}, "generation 2")


# --- end to end: the test labels decide nothing ---------------------------------------------------


def _chain_params(raw: Path) -> dict:
    """A tiny chain with the adaptive environment (any validation drop slows the shrink) on a user .npz."""
    params = copy.deepcopy(TINY_PARAMS)
    params["datasets"] = {"digits": {"source": "npz", "root": str(raw), "image_size": 28,
                                     "validation": {"fraction": 0.2, "seed": 3}}}
    tiny = params["experiments"]["tiny"]
    tiny.update(generations=3, method="cluster", encoding={"clusters": "filter", "truncation": 0.1},
                environment={"factor": 0.6, "cluster_factor": 0.8, "mode": "budget",
                             "adaptive": {"tolerance": 0.0, "slowdown": 0.5}})
    tiny["train"].update(stress=0.8, ancestor_epochs=2)  # stress between the ancestor's two epochs
    return params


def _digits_npz(path: Path, permute_test: bool) -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.rint(digits.images / 16.0 * 255.0).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0,
                                                        stratify=digits.target)
    if permute_test:
        y_test = y_test[np.random.default_rng(11).permutation(len(y_test))]
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


@pytest.mark.slow
def test_permuting_the_test_labels_changes_no_mask_weight_or_decision(tmp_path):
    from test_additions_default import _run

    from evosynth.pipeline.params import validate_params
    from evosynth.pipeline.plan import build_plan

    folders = {}
    for name, permuted in (("true", False), ("permuted", True)):
        (tmp_path / name).mkdir()
        _digits_npz(tmp_path / name / "raw.npz", permuted)
        folders[name] = _chain_params(tmp_path / name / "raw.npz")
    commands = {name: [s.cmd for s in build_plan(validate_params(p)) if s.step != "code"]
                for name, p in folders.items()}
    assert commands["true"] == commands["permuted"]
    with ThreadPoolExecutor(2) as pool:
        runs = {name: pool.submit(_run, tmp_path / f"run_{name}", ROOT / "src", p, commands[name])
                for name, p in folders.items()}
        true, permuted = runs["true"].result(), runs["permuted"].result()
    checkpoints = sorted(p.relative_to(true) for p in true.glob("results/**/*.pt"))
    assert len(checkpoints) == 1 + 3 * 3  # the ancestor; genome, offspring and model of 3 generations
    for path in checkpoints:
        a, b = (torch.load(root / path, weights_only=True) for root in (true, permuted))
        for key in ("masks", "state_dict"):
            if key in a:
                assert a[key].keys() == b[key].keys(), path
                for name in a[key]:
                    assert torch.equal(a[key][name], b[key][name]), f"{path}: {key}.{name} differs"
    for pattern in ("results/**/synthesis.json", "results/**/train_log.json"):  # the decisions as recorded
        for path in true.glob(pattern):
            assert path.read_bytes() == (permuted / path.relative_to(true)).read_bytes(), path
    metrics = {name: [read_json(root / f"results/tiny/gen{g}/metrics.json") for g in range(4)]
               for name, root in (("true", true), ("permuted", permuted))}
    assert [m[VALIDATION] for m in metrics["true"]] == [m[VALIDATION] for m in metrics["permuted"]]
    assert [m[TEST] for m in metrics["true"]] != [m[TEST] for m in metrics["permuted"]]  # the labels did change
    decided = [read_json(true / f"results/tiny/gen{g}/synthesis.json")["adaptive"] for g in (1, 2, 3)]
    assert all(d["key"] == VALIDATION for d in decided)
    assert [d["parent_accuracy"] for d in decided] == [m[VALIDATION] for m in metrics["true"][:3]]
    picks = {name: synthesized_generation(rows, 0.01, DECISION)["generation"] for name, rows in metrics.items()}
    assert picks["true"] == picks["permuted"]
    summaries = {name: read_json(root / "reports/tiny/summary.json") for name, root in (("true", true),
                                                                                        ("permuted", permuted))}
    assert summaries["true"]["pick"] == summaries["permuted"]["pick"] == picks["true"]
