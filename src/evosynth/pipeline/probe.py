"""The capacity probe (issue 16; docs/method.md §13.7): its folders and its params check.

How accurate can *any* network of the reference's LeNet5 topology be at a
given width, with a given training budget? For every architecture ``w`` of
``probe.widths`` ([conv1 filters, conv2 filters, fc1 neurons]) and every seed
``s`` of ``probe.seeds`` the probe trains the dense network from scratch; one
report reads them all beside the reference experiment's ancestor::

    probe_train   results/probe/w<c1>_<c2>_<h>[_k<kernels>][_<recipe>]_s<s>/model.pt, metrics.json, train_log.json
                  (deps: the reference's prepared data; with train.distill its ancestor's model.pt, the teacher)
    probe         reports/probe/probe.{md,csv,png}
                  (deps: every probe metrics.json and the reference's generation-0 metrics.json)

A named target outside the default run (``render_dvc.py --with probe``, then
``dvc repro pipelines/probe/dvc.yaml``; ``snakemake -c2 probe``). The networks
train and are tested on the reference's dataset and data (its subsets and
their seed), so every accuracy is on the test images the reference's is.

A *kernel-sparse* network (``probe.kernel_sparse``) has dense widths but a
fixed random mask on conv2's kernels, so that its conv kernels number
``probe.kernel_sparse.kernels`` in all (conv1's are its filters on each image
channel and stay dense): the target's kernel count at wider conv widths than
the dense network with that count (:mod:`evosynth.nets.kernel_masks`).

Light on purpose (params.py validates with it, and every step runs params.py):
the stages are built in :mod:`evosynth.pipeline.probe_steps`.
"""

from __future__ import annotations

import re
from typing import Any

from evosynth.errors import ParamsError

PROBE_RESULTS = "results/probe"
PROBE_DIR = "reports/probe"
#: The architecture whose widths the probe varies (nets/architectures: LeNet5's ``widths``).
PROBE_ARCHITECTURE = "lenet5"


#: The layer whose kernels a kernel-sparse network drops. conv1's kernels are its filters on each image channel:
#: dropping one narrows conv1, which its width already says.
SPARSE_LAYER = "conv2"


def probe_tag(widths: list[int] | tuple[int, ...]) -> str:
    """An architecture's name in folders and stage names: ``w4_8_16`` for conv1 4, conv2 8, fc1 16."""
    return "w" + "_".join(str(int(w)) for w in widths)


def probe_unit(widths: list[int] | tuple[int, ...], seed: int, recipe: str | None = None,
               kernels: int | None = None) -> str:
    """One training: ``w4_8_16_s0`` with ``probe.train``, ``w4_8_16_e36_s0`` with the recipe ``e36``,
    ``w10_20_10_k36_e36_s0`` kernel-sparse with 36 kernels (its folder under results/probe/, its stage
    ``probe_train-<unit>``)."""
    return f"{probe_tag(widths)}{f'_k{kernels}' if kernels else ''}{'_' + recipe if recipe else ''}_s{seed}"


def probe_folder(widths: list[int] | tuple[int, ...], seed: int, recipe: str | None = None,
                 kernels: int | None = None) -> str:
    return f"{PROBE_RESULTS}/{probe_unit(widths, seed, recipe, kernels)}"


def probe_runs(probe: dict[str, Any]) -> list[tuple[tuple[int, ...], str | None, int, str, int | None]]:
    """(widths, recipe, seed, folder, kernels) of every training: each architecture with ``probe.train`` (recipe
    None), then each recipe on ``probe.recipe_widths``, then each kernel-sparse width (kernels: its conv kernels
    in all; None: dense) with ``probe.train`` and every recipe; seeds in order."""
    recipes = list(probe.get("recipes", {}))
    plans = [(tuple(w), None, None) for w in probe["widths"]]
    plans += [(tuple(w), r, None) for r in recipes for w in probe.get("recipe_widths", [])]
    sparse = probe.get("kernel_sparse")
    if sparse:
        plans += [(tuple(w), r, sparse["kernels"]) for r in (None, *recipes) for w in sparse["widths"]]
    return [(w, r, seed, probe_folder(w, seed, r, k), k) for w, r, k in plans for seed in probe["seeds"]]


def recipe_train(probe: dict[str, Any], recipe: str | None) -> dict[str, Any]:
    """The training of a recipe: ``probe.train`` with the recipe's keys replaced (None: ``probe.train`` itself)."""
    return {**probe["train"], **(probe.get("recipes", {})[recipe] if recipe else {})}


def sparse_kept(widths: list[int] | tuple[int, ...], kernels: int, channels: int, where: str) -> int:
    """conv2 kernels a kernel-sparse network of ``widths`` keeps so that its conv kernels number ``kernels`` (conv1
    dense: conv1 · ``channels`` kernels). ParamsError naming ``where`` unless every conv2 filter and every conv1
    channel can keep a kernel and conv2 keeps fewer than all of its own."""
    conv1, conv2 = int(widths[0]), int(widths[1])
    kept, low, high = kernels - conv1 * channels, max(conv1, conv2), conv1 * conv2 - 1
    if not low <= kept <= high:
        raise ParamsError(f"{where}: {list(widths)} with {kernels} kernels keeps {kept} of conv2's {conv1 * conv2}"
                          f" (conv1 has {conv1 * channels}); allowed: {low + conv1 * channels} to"
                          f" {high + conv1 * channels} kernels (every filter and channel alive, sparser than dense)")
    return kept


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
    for name in probe.get("recipes", {}):
        if re.fullmatch(r"k[0-9]+", name):
            raise ParamsError(f"{source}: probe.recipes.{name}: a recipe named k<number> reads as a kernel-sparse"
                              " network's folder; allowed: another name")
    sparse = probe.get("kernel_sparse")
    for index, w in enumerate(sparse["widths"] if sparse else []):  # the image channels are the data's: 1 here,
        sparse_kept(w, sparse["kernels"], 1, f"{source}: probe.kernel_sparse.widths.{index}")  # the step checks again
    widths = [list(w) for w in probe["widths"]]
    for index, w in enumerate(probe.get("recipe_widths", [])):
        if list(w) not in widths:
            raise ParamsError(f"{source}: probe.recipe_widths.{index}: {w} is not an entry of probe.widths; allowed:"
                              f" {', '.join(str(x) for x in widths)}")


def distills(probe: dict[str, Any]) -> bool:
    """The probe's networks learn the reference ancestor's outputs too (train.distill.alpha > 0)."""
    return probe["train"].get("distill", {}).get("alpha", 0.0) > 0
