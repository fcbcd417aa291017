"""The capacity probe (issue 16; docs/method.md §13.7): its folders and its params check.

How accurate can *any* network of the reference's LeNet5 topology be at a
given width, with a given training budget? For every architecture ``w`` of
``probe.widths`` ([conv1 filters, conv2 filters, fc1 neurons]) and every seed
``s`` of ``probe.seeds`` the probe trains the dense network from scratch; one
report reads them all beside the reference experiment's ancestor::

    probe_train   results/probe/w<c1>_<c2>_<h>_s<s>/model.pt, metrics.json, train_log.json
                  (deps: the reference's prepared data; with train.distill its ancestor's model.pt, the teacher)
    probe         reports/probe/probe.{md,csv,png}
                  (deps: every probe metrics.json and the reference's generation-0 metrics.json)

A named target outside the default run (``render_dvc.py --with probe``, then
``dvc repro pipelines/probe/dvc.yaml``; ``snakemake -c2 probe``). The networks
train and are tested on the reference's dataset and data (its subsets and
their seed), so every accuracy is on the test images the reference's is.

Light on purpose (params.py validates with it, and every step runs params.py):
the stages are built in :mod:`evosynth.pipeline.probe_steps`.
"""

from __future__ import annotations

from typing import Any

from evosynth.errors import ParamsError

PROBE_RESULTS = "results/probe"
PROBE_DIR = "reports/probe"
#: The architecture whose widths the probe varies (nets/architectures: LeNet5's ``widths``).
PROBE_ARCHITECTURE = "lenet5"


def probe_tag(widths: list[int] | tuple[int, ...]) -> str:
    """An architecture's name in folders and stage names: ``w4_8_16`` for conv1 4, conv2 8, fc1 16."""
    return "w" + "_".join(str(int(w)) for w in widths)


def probe_unit(widths: list[int] | tuple[int, ...], seed: int) -> str:
    """One training: ``w4_8_16_s0`` (its folder under results/probe/, its stage ``probe_train-w4_8_16_s0``)."""
    return f"{probe_tag(widths)}_s{seed}"


def probe_folder(widths: list[int] | tuple[int, ...], seed: int) -> str:
    return f"{PROBE_RESULTS}/{probe_unit(widths, seed)}"


def probe_runs(probe: dict[str, Any]) -> list[tuple[tuple[int, ...], int, str]]:
    """(widths, seed, folder) of every training, architecture by architecture, seeds in order."""
    return [(tuple(w), seed, probe_folder(w, seed)) for w in probe["widths"] for seed in probe["seeds"]]


def check_probe(params: dict[str, Any], source: str) -> None:
    """The reference must be a LeNet5 experiment (or one seed's chain) that trains its own ancestor."""
    probe = params.get("probe")
    if not probe:
        return
    allowed = [e for e, x in params["experiments"].items()
               if x["architecture"] == PROBE_ARCHITECTURE and not x.get("ancestor")]
    if probe["reference"] not in allowed:
        raise ParamsError(f"{source}: probe.reference: {probe['reference']!r} is not an experiment of architecture"
                          f" {PROBE_ARCHITECTURE} that trains its own ancestor; allowed: {', '.join(allowed) or '(none)'}")


def distills(probe: dict[str, Any]) -> bool:
    """The probe's networks learn the reference ancestor's outputs too (train.distill.alpha > 0)."""
    return probe["train"].get("distill", {}).get("alpha", 0.0) > 0
