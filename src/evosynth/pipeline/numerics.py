"""Portable numerics: the kernels, BLAS and oneDNN code paths and the thread count torch computes with.

torch's CPU results depend, in their last bits, on the machine: ATen dispatches
to kernels compiled for the CPU's widest instruction set (AVX2, AVX-512), MKL
and oneDNN pick code paths of their own by CPU, and float reductions split
differently with another number of threads. A trained network's weights then
differ between CPU models, and after a few generations of evolution so do
synapse counts and accuracies (docs/numerics.md has the measurements).

``numerics: portable`` (params.yaml; the default) pins all of them to code
paths every x86-64 CPU runs the same way, so any CPU writes the same bytes;
``numerics: native`` pins nothing and leaves the choice to the CPU (and to the
caller's environment): faster, and its results are NOT portable — they hold
only on CPUs that pick the same kernels. The steps that time this machine
(:data:`TIMING_STEPS`) run native kernels in either mode: their outputs are
measurements of the machine, and pinned kernels would time something no user runs.

The variables are read when torch, MKL and oneDNN load, so :func:`apply` runs
before torch is imported: at the start of every ``evosynth`` step (the CLI,
and so every DVC stage, Snakemake job and SLURM job), and the warm server a
step starts inherits them (they are part of its key). :func:`apply` records
the mode in effect in ``EVOSYNTH_NUMERICS`` (``MARKER``), which the steps'
provenance records (:func:`evosynth.host.cpu_isa`). oneDNN and the threads are
switched in the process that runs the step, once torch is imported
(:func:`pin_torch`; in the warm server's fork too).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, MutableMapping

from evosynth.host import NUMERICS_MARKER as MARKER

MODES = ("portable", "native")
#: What portable numerics pins: environment variables read as torch loads, oneDNN, torch's threads.
PORTABLE: dict[str, Any] = {
    "env": {
        "ATEN_CPU_CAPABILITY": "default",  # ATen's kernels compiled without AVX2/AVX-512
        "MKL_CBWR": "COMPATIBLE",  # MKL's conditional numerical reproducibility: one code path on every CPU
    },
    "onednn": False,  # oneDNN off (torch.backends.mkldnn): its JIT kernels follow the CPU whatever its ISA cap
    "capability": "DEFAULT",  # what torch.backends.cpu.get_cpu_capability() reports under these pins
    "threads": 2,  # two threads, whatever the machine offers: the count the cross-CPU probe found equal bytes at
}
#: Steps that time this machine: native kernels whatever the mode.
TIMING_STEPS = ("runtime", "picks", "latency")
#: Every variable that changes numerics: the pins and the mode (the warm server's key includes them).
ENV_NAMES = (*PORTABLE["env"], MARKER)


def mode_of(params: dict[str, Any], step: str) -> str:
    """The numerics a step runs with: params.yaml's ``numerics``, native for the steps that time the machine."""
    return "native" if step in TIMING_STEPS else params.get("numerics", "portable")


def apply(mode: str, environ: MutableMapping[str, str] | None = None) -> str:
    """Set ``mode``'s environment, before torch is imported; the mode in effect (recorded in ``MARKER``).

    If torch was already imported with other kernels (a step called from a
    Python process that imported torch first), the pins cannot take effect:
    the step runs native, says so in a RuntimeWarning, and its provenance records native.
    """
    environ = os.environ if environ is None else environ
    if mode not in MODES:
        raise ValueError(f"numerics: {mode!r} is not one of {', '.join(MODES)}")
    if mode == "portable":
        environ.update(PORTABLE["env"])
        torch = sys.modules.get("torch")
        if torch is not None and torch.backends.cpu.get_cpu_capability() != PORTABLE["capability"]:
            warnings.warn("torch was imported before the portable numerics could be pinned; this step runs native"
                          " kernels and records numerics: native", RuntimeWarning, stacklevel=2)
            mode = "native"
    environ[MARKER] = mode
    return mode


def pin_torch(mode: str, threads: int | None = None) -> None:
    """The rest of ``mode`` once torch is imported, in the process that runs the step: portable's oneDNN
    switch and threads; native: ``threads`` if given (``--threads``, ``EVOSYNTH_THREADS``), else torch's own."""
    import torch

    if mode == "portable":
        torch.backends.mkldnn.enabled = PORTABLE["onednn"]
        threads = PORTABLE["threads"]
    if threads:
        torch.set_num_threads(threads)
