"""Exports of a compacted network: TorchScript and ONNX, for devices without evosynth."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import nn

from evosynth.artifacts import atomic_path, write_bytes


def export_torchscript(model: nn.Module, input_shape: tuple[int, ...], path: Path) -> None:
    """A traced TorchScript module (runs with ``torch.jit.load`` alone).

    torch 2.14 marks TorchScript deprecated in favour of ``torch.export``; it is
    still what mobile and C++ runtimes load, so the warning is silenced here.
    Saved to memory first: the archive's record names would carry the
    temporary file's random name.
    """
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, torch.zeros(1, *input_shape))
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    write_bytes(path, buffer.getvalue())


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], path: Path) -> None:
    """An ONNX graph with a dynamic batch dimension (input ``image``, output ``logits``).

    Uses the TorchScript-based exporter (``dynamo=False``), which needs no
    ``onnxscript``.
    """
    model.eval()
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros(1, *input_shape),),
            str(tmp),
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
