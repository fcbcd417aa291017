"""The workflow's steps: read inputs, call the pure cores, write artifacts.

Each function reads its own section of params, takes paths as arguments and
writes its outputs atomically with a ``<step>.provenance.json`` beside them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth import report as report_mod
from evosynth.artifacts import (
    load_checkpoint,
    provenance,
    read_json,
    save_checkpoint,
    write_json,
)
from evosynth.data import Split, load_prepared, prepare
from evosynth.encoding import encode
from evosynth.errors import ArtifactError, DataError
from evosynth.masks import Masks, apply_masks, check_masks, full_masks
from evosynth.metrics import generation_metrics
from evosynth.models import build_model
from evosynth.plan import STEP_PARAMS, step_files
from evosynth.synthesis import environmental_factor, sample_mask, seed_for
from evosynth.training import TrainConfig, train


def _step_params(exp: dict[str, Any], step: str) -> dict[str, Any]:
    return {key: exp[key] for key in STEP_PARAMS[step]}


def _finish(step: str, params: Any, started: float, out_dir: Path, files: list[str]) -> None:
    """Write the provenance of ``files[:-1]`` into ``files[-1]``."""
    outputs = [out_dir / f for f in files[:-1]]
    write_json(out_dir / files[-1], provenance(step, params, started, outputs))


def _load_data(exp: dict[str, Any], data_path: str | Path) -> Split:
    return load_prepared(data_path, exp["data"]["train_size"], exp["data"]["test_size"], exp["seed"])


def load_network(path: str | Path, kind: str = "model") -> tuple[nn.Module, Masks, dict[str, Any]]:
    """Rebuild a network and its masks from a ``model`` or ``offspring`` checkpoint."""
    ckpt = load_checkpoint(path, kind)
    model = build_model(ckpt["architecture"], tuple(ckpt["input_shape"]), ckpt["num_classes"])
    try:
        model.load_state_dict(ckpt["state_dict"])
        check_masks(model, ckpt["masks"])
    except (RuntimeError, ValueError) as exc:
        raise ArtifactError(f"{path}: checkpoint does not fit {ckpt['architecture']}: {exc}") from None
    return model, ckpt["masks"], ckpt


def _network_payload(model: nn.Module, masks: Masks, like: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keys = ("architecture", "input_shape", "num_classes", "experiment")
    return {"state_dict": model.state_dict(), "masks": masks, **{k: like[k] for k in keys}, **extra}


def run_prepare(params: dict[str, Any], dataset: str, out_dir: Path) -> dict[str, Any]:
    started = time.time()
    spec = params["datasets"][dataset]
    files = step_files("prepare", dataset=dataset)
    card = prepare(spec, out_dir / files[0], out_dir / files[1])
    _finish("prepare", spec, started, out_dir, files)
    return card


def run_train(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    data_path: Path,
    out_dir: Path,
    init: Path | None = None,
) -> list[dict[str, Any]]:
    """Train the ancestor (``init`` None, generation 0) or an offspring."""
    started = time.time()
    exp = params["experiments"][experiment]
    step = "stress_train" if init is None else "retrain"
    data = _load_data(exp, data_path)
    if init is None:
        torch.manual_seed(seed_for(exp["seed"], 0, "init"))
        shape = tuple(data.x_train.shape[1:])
        try:
            model = build_model(exp["architecture"], shape, data.num_classes)
        except ValueError as exc:
            raise DataError(f"{data_path}: {exc} (set image_size of dataset {exp['dataset']!r})") from None
        masks = full_masks(model)
        like = {
            "architecture": exp["architecture"],
            "input_shape": list(shape),
            "num_classes": data.num_classes,
            "experiment": experiment,
        }
        epochs = exp["train"]["ancestor_epochs"]
    else:
        model, masks, like = load_network(init, "offspring")
        epochs = exp["train"]["epochs"]
    config = TrainConfig(
        epochs=epochs, **{k: v for k, v in exp["train"].items() if k not in ("epochs", "ancestor_epochs")}
    )
    history = train(
        model, masks, data, config, seed_for(exp["seed"], generation, "train"),
        label=f"{experiment} gen{generation} {step}",
    )
    files = step_files(step)
    save_checkpoint(out_dir / files[0], "model", _network_payload(model, masks, like, generation=generation))
    write_json(out_dir / files[1], {"epochs": history})
    _finish(step, _step_params(exp, step), started, out_dir, files)
    return history


def run_encode(params: dict[str, Any], experiment: str, generation: int, parent: Path, out_dir: Path) -> None:
    started = time.time()
    exp = params["experiments"][experiment]
    model, masks, _ = load_network(parent)
    weights = {name: layer.weight for name, layer in model.named_modules() if name in masks}
    genome = encode(weights, masks)
    files = step_files("encode")
    save_checkpoint(out_dir / files[0], "genome", {"method": exp["method"], "probabilities": genome})
    _finish("encode", _step_params(exp, "encode"), started, out_dir, files)


def run_synthesize(
    params: dict[str, Any], experiment: str, generation: int, genome: Path, parent: Path, out_dir: Path
) -> dict[str, Any]:
    started = time.time()
    exp = params["experiments"][experiment]
    model, parent_masks, like = load_network(parent)
    probabilities = load_checkpoint(genome, "genome")["probabilities"]
    if set(probabilities) != set(parent_masks):
        raise ArtifactError(f"{genome}: genome layers {sorted(probabilities)} do not match {parent}")
    env = exp["environment"]
    keep, scale = environmental_factor(probabilities, env["factor"], env["mode"])
    masks = {name: m & parent_masks[name] for name, m in sample_mask(keep, seed_for(exp["seed"], generation, "synthesize")).items()}
    if exp["init"] == "scratch":
        torch.manual_seed(seed_for(exp["seed"], generation, "init"))
        model = build_model(like["architecture"], tuple(like["input_shape"]), like["num_classes"])
    apply_masks(model, masks)
    parent_count = sum(int(m.sum()) for m in parent_masks.values())
    summary = {
        "factor": env["factor"],
        "mode": env["mode"],
        "scale": scale,
        "parent_synapses": parent_count,
        "expected_synapses": float(sum(p.double().sum() for p in keep.values())),
        "synapses": sum(int(m.sum()) for m in masks.values()),
        "per_layer": {
            name: {
                "parent": int(parent_masks[name].sum()),
                "expected": float(keep[name].double().sum()),
                "kept": int(masks[name].sum()),
            }
            for name in masks
        },
    }
    summary["expected_ratio"] = summary["expected_synapses"] / parent_count if parent_count else 0.0
    summary["realised_ratio"] = summary["synapses"] / parent_count if parent_count else 0.0
    files = step_files("synthesize")
    save_checkpoint(out_dir / files[0], "offspring", _network_payload(model, masks, like, generation=generation))
    write_json(out_dir / files[1], summary)
    _finish("synthesize", _step_params(exp, "synthesize"), started, out_dir, files)
    return summary


def run_evaluate(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    model_path: Path,
    data_path: Path,
    ancestor: Path,
    out_dir: Path,
    parent: Path | None = None,
) -> dict[str, Any]:
    started = time.time()
    exp = params["experiments"][experiment]
    model, masks, _ = load_network(model_path)
    ancestor_masks = load_network(ancestor)[1]
    parent_masks = load_network(parent)[1] if parent is not None else None
    metrics = {
        "generation": generation,
        **generation_metrics(model, masks, _load_data(exp, data_path), ancestor_masks, parent_masks),
    }
    if parent is not None:
        metrics["factor"] = exp["environment"]["factor"]
    files = step_files("evaluate")
    write_json(out_dir / files[0], metrics)
    _finish("evaluate", _step_params(exp, "evaluate"), started, out_dir, files)
    return metrics


def run_report(params: dict[str, Any], experiment: str, metrics: list[Path], out_dir: Path) -> None:
    started = time.time()
    exp = params["experiments"][experiment]
    rows = [read_json(path) for path in metrics]
    files = step_files("report")
    report_mod.generation_report(experiment, exp, rows, *(out_dir / f for f in files[:-1]))
    _finish("report", _step_params(exp, "report"), started, out_dir, files)
