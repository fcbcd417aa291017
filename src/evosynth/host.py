"""The machine a step ran on, as its records state it: the package versions loaded, the CPU's
instruction set, the kernels and numerics in effect.

:func:`evosynth.artifacts.provenance` (hashed) and :func:`evosynth.artifacts.run_record`
(untracked) record them.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

#: The packages whose versions every provenance records.
RECORDED_PACKAGES = ("torch", "numpy", "dvc", "snakemake")


def loaded_version(name: str) -> str | None:
    """The version of package ``name`` as this process runs it: its loaded module's ``__version__``.

    A package this process never imported (dvc, snakemake) is looked up in its
    installed metadata instead, which is what importing it would load. The
    metadata alone would be wrong when the files on disk changed after the
    import (a long-lived warm server whose venv was upgraded).
    """
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None) if module is not None else None
    if version is not None:
        return str(version)
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str]:
    versions = {name: loaded_version(name) for name in RECORDED_PACKAGES}
    return {name: version for name, version in versions.items() if version is not None}


def torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch else None


#: The x86 instruction-set extensions that select CPU kernels (and so can change float results).
ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
)
#: Environment variables that pin the kernels' instruction set and code paths (torch's ATen, oneDNN, MKL).
ISA_ENV = ("ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")
#: The numerics mode a step runs with ("portable" or "native"), set by evosynth.pipeline.numerics.
NUMERICS_MARKER = "EVOSYNTH_NUMERICS"


def cpu_flags() -> list[str]:
    """Which of :data:`ISA_FLAGS` this CPU has (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [f for f in ISA_FLAGS if f in present]
    except OSError:
        pass
    return []


def cpu_isa() -> dict[str, Any]:
    """The numerics a step ran with: the mode, the kernels torch used, the pinning variables.

    ``numerics``: ``portable`` or ``native`` (:data:`NUMERICS_MARKER`);
    ``aten_cpu_capability``: the kernels ATen dispatches to in this process
    (``DEFAULT``, ``AVX2``, ``AVX512``…; pinned by ``ATEN_CPU_CAPABILITY``);
    ``deterministic``: whether torch's deterministic algorithms are on; ``onednn``:
    whether torch calls oneDNN (``torch.backends.mkldnn.enabled``); ``env``:
    the pinning variables as set; ``flags``: the CPU's instruction-set
    extensions — only in native mode, where they decide the results: portable
    results do not depend on them, and the same bytes on every CPU include the
    provenance (the flags then go to the run record).
    """
    torch = sys.modules.get("torch")
    numerics = os.environ.get(NUMERICS_MARKER)
    record = {
        "machine": platform.machine(),
        "numerics": numerics,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability() if torch else None,
        "deterministic": torch.are_deterministic_algorithms_enabled() if torch else None,
        "onednn": torch.backends.mkldnn.enabled if torch else None,
        "env": {name: os.environ[name] for name in ISA_ENV if name in os.environ},
    }
    if numerics != "portable":
        record["flags"] = cpu_flags()
    return record
