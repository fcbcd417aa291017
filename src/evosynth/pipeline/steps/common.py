"""What every step shares: its params section, provenance, and networks loaded from checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.artifacts import load_checkpoint, provenance, run_record, run_record_path, write_json
from evosynth.errors import ArtifactError
from evosynth.nets.architectures import build_model
from evosynth.nets.masks import Masks, check_masks, prunable_layers
from evosynth.pipeline import checkout
from evosynth.pipeline.outputs import STEP_PARAMS

NETWORK_KEYS = ("architecture", "input_shape", "num_classes", "experiment")
#: Kept in a checkpoint only when the experiment sets it (absent: the paper's network).
OPTIONAL_NETWORK_KEYS = ("width",)


def step_params(exp: dict[str, Any], step: str) -> dict[str, Any]:
    """The keys of an experiment's params that ``step`` reads (recorded in its provenance); an optional key
    left out of params.yaml (``width``) is left out here too, so its records stay what they were before it."""
    return {key: exp[key] for key in STEP_PARAMS[step] if key in exp}


def finish(step: str, params: Any, started: float, out_dir: Path, files: list[str], **timings: Any) -> None:
    """Write the provenance of ``files[:-1]`` into ``files[-1]``, and the run's times beside it.

    The provenance is hashed by DVC and Snakemake and is the same on every
    rerun; it names the code files that ran (:func:`checkout.ran`). When, where,
    how long (and ``timings``) and the package folder go to the untracked run record.
    """
    outputs = [out_dir / f for f in files[:-1]]
    write_json(out_dir / files[-1], {**provenance(step, params, outputs), "code": checkout.ran()})
    write_json(run_record_path(out_dir / files[-1]), run_record(started, code=checkout.where(), **timings))


def stream(purpose: str, member: int | None) -> str:
    """The name of a random stream: one per purpose and population member."""
    return purpose if member is None else f"{purpose}/m{member}"


def network_from(payload: dict[str, Any], source: str | Path) -> tuple[nn.Module, Masks]:
    """Rebuild a network and its masks from a checkpoint payload (model, offspring or genome).

    A payload with ``widths`` (a capacity-probe network, LeNet5 narrower than Caffe's) is built that wide.
    """
    widths = payload.get("widths")
    model = build_model(payload["architecture"], tuple(payload["input_shape"]), payload["num_classes"],
                        width=payload.get("width", 1.0), widths=tuple(widths) if widths is not None else None)
    try:
        model.load_state_dict(payload["state_dict"])
        check_masks(model, payload["masks"])
    except (RuntimeError, ValueError) as exc:
        raise ArtifactError(f"{source}: checkpoint does not fit {payload['architecture']}: {exc}") from None
    return model, payload["masks"]


def load_network(path: str | Path, kind: str = "model") -> tuple[nn.Module, Masks, dict[str, Any]]:
    ckpt = load_checkpoint(path, kind)
    model, masks = network_from(ckpt, path)
    return model, masks, ckpt


def network_payload(model: nn.Module, masks: Masks, like: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keys = [*NETWORK_KEYS, *(k for k in OPTIONAL_NETWORK_KEYS if k in like)]
    return {"state_dict": model.state_dict(), "masks": masks, **{k: like[k] for k in keys}, **extra}


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weight tensor of every prunable layer, by layer name."""
    return {name: layer.weight for name, layer in prunable_layers(model)}

