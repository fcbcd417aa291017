"""What a step inherits from its caller besides streams and environment: nice value, CPUs, cgroups.

The warm server's fork (:mod:`evosynth.pipeline.warm`) takes them from its caller, so that no step
escapes nice, taskset or a cgroup by running in a server started elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _cgroup() -> str | None:
    """This process's cgroups, as ``/proc/self/cgroup`` lists them (v2 and every v1 hierarchy); None without."""
    try:
        return Path("/proc/self/cgroup").read_text()
    except OSError:
        return None


def _join_cgroups(wanted: str) -> None:
    """Move this process into each cgroup of ``wanted`` it is not in yet (v2: ``0::path``; v1: ``n:ctrl:path``)."""
    have = set((_cgroup() or "").splitlines())
    for line in wanted.splitlines():
        if line in have:
            continue
        hierarchy, controllers, path = line.split(":", 2)
        roots = ["", "/unified"] if hierarchy == "0" else [
            f"/{controllers}", *(f"/{c.removeprefix('name=')}" for c in controllers.split(","))]
        for root in roots:
            procs = Path(f"/sys/fs/cgroup{root}{path}/cgroup.procs")
            if procs.is_file():
                procs.write_text(f"{os.getpid()}\n")  # OSError when not permitted: the fork refuses
                break


def limits() -> dict[str, object]:
    """What a step inherits from its caller besides streams and environment: nice, CPUs, cgroup."""
    return {
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cgroup": _cgroup(),
    }


def take_limits(wanted: dict[str, object]) -> bool:
    """In the fork: take the caller's nice value, CPU affinity and cgroup; False if one cannot be taken."""
    try:
        if wanted["cgroup"] is not None and wanted["cgroup"] != _cgroup():
            _join_cgroups(str(wanted["cgroup"]))
        nice = int(wanted["nice"])  # type: ignore[arg-type]
        if nice != os.getpriority(os.PRIO_PROCESS, 0):
            os.setpriority(os.PRIO_PROCESS, 0, nice)  # raising it is always allowed, lowering it is not
        if wanted["affinity"] is not None:
            cpus = set(wanted["affinity"])  # type: ignore[arg-type]
            if cpus != os.sched_getaffinity(0):
                os.sched_setaffinity(0, cpus)
                torch = sys.modules.get("torch")
                if torch is not None and "OMP_NUM_THREADS" not in os.environ:
                    # a fresh process sizes torch's pool by its CPUs; the fork inherited the server's
                    torch.set_num_threads(max(1, min(torch.get_num_threads(), len(cpus))))
        return _cgroup() == wanted["cgroup"] and os.getpriority(os.PRIO_PROCESS, 0) == nice
    except (OSError, ValueError):
        return False
