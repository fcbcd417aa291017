"""A no-op ``dvc repro`` answered from a stamp: every file DVC would check, unchanged since its last no-op.

DVC decides that a stage is unchanged from the stage's entry in dvc.yaml and dvc.lock, the
params it tracks, and each dependency and output: its hash, which DVC takes from its state
database while the file's inode, modification time and size are the ones it last hashed,
and, for a cached output, the presence of its object in the cache. A no-op of the project's
440 stages spends 10 s doing that in DVC.

So after a ``dvc repro`` that DVC found entirely up to date, ``workflow/scripts/repro.py``
writes a stamp (``.dvc/tmp/repro-stamp.json``, never in git): the sha256 of every control file
(each dvc.yaml and dvc.lock, DVC's config, .dvcignore), the set of pipeline files found in
the project, and the inode, modification time, change time and size of every dependency,
output, params file and cache object of every stage (each file of a directory). A later call with the
same arguments that finds all of it equal prints DVC's answer without asking DVC; anything
else, a missing or unreadable stamp included, and DVC is asked. The stamp is written only
when no watched file changed while DVC ran (its change time is older than the run's start),
so a stage that ran, or an edit made during the run, leaves no stamp: the next no-op asks
DVC and writes one. Stages DVC always reruns (``always_changed``, callback stages) and
frozen stages disable it. This trusts file metadata exactly where DVC's state database does.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

STAMP = Path(".dvc") / "tmp" / "repro-stamp.json"
#: Files that are not stages' dependencies yet change what DVC decides.
CONFIG = (".dvc/config", ".dvc/config.local", ".dvcignore")
#: Folders DVC never collects pipeline files from (and the virtual environment the project installs into).
PRUNED = {".git", ".dvc", ".venv", ".snakemake", "__pycache__"}

Stat = list[int]


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _stat(path: str) -> dict[str, Stat | None]:
    """``[inode, mtime, ctime, size]`` of ``path``, or of every file under it when it is a folder (None: missing)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {path: None}
    if not os.path.isdir(path):
        return {path: [st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size]}
    out: dict[str, Stat | None] = {}
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            out.update(_stat(os.path.join(folder, name)))
    return out


def pipeline_files(root: Path) -> list[str]:
    """Every dvc.yaml and .dvc file under ``root`` (relative paths): a new one changes what ``dvc repro`` does."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in PRUNED)
        found += [os.path.relpath(os.path.join(folder, f), root) for f in files if f == "dvc.yaml" or f.endswith(".dvc")]
    return sorted(found)


def _control(root: Path, dvcfiles: list[str]) -> dict[str, str | None]:
    names = [*CONFIG, *dvcfiles, *(f[: -len(".yaml")] + ".lock" for f in dvcfiles if f.endswith("dvc.yaml"))]
    return {name: _sha(root / name) for name in names}


def watched(root: Path) -> dict[str, Any] | None:
    """What the stamp holds for the project at ``root`` as DVC sees it now; None when no stamp may stand for DVC."""
    from dvc.repo import Repo

    paths: set[str] = set()
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            if stage.frozen or stage.always_changed or stage.is_callback:
                return None
            paths.update(item.fs_path for item in (*stage.deps, *stage.outs))
            paths.update(out.cache.oid_to_path(out.hash_info.value) for out in stage.outs
                         if out.use_cache and out.hash_info and out.hash_info.value)
    files = {path: _stat(path) for path in sorted(paths)}  # a folder: each file under it, so a new one counts
    dvcfiles = pipeline_files(root)
    return {"dvc": version("dvc"), "pipelines": dvcfiles, "control": _control(root, dvcfiles), "files": files}


def unchanged(root: Path, argv: list[str]) -> str | None:
    """The summary line the stamp recorded, if ``argv`` matches it and nothing it watches changed; else None."""
    try:
        stamp = json.loads((root / STAMP).read_text())
        if stamp["argv"] != argv or stamp["dvc"] != version("dvc"):
            return None
        dvcfiles = pipeline_files(root)
        if dvcfiles != stamp["pipelines"] or _control(root, dvcfiles) != stamp["control"]:
            return None
        if any(_stat(path) != seen for path, seen in stamp["files"].items()):
            return None
        return str(stamp["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(root: Path, argv: list[str], summary: str, started_ns: int) -> bool:
    """Write the stamp after a ``dvc repro`` (started at ``started_ns``) that found every stage up to date.

    Nothing is written, and False returned, when a watched file changed since the run started
    (a stage ran, or someone edited a file meanwhile) or no stamp may stand for DVC.
    """
    state = watched(root)
    if state is None:
        return False
    stats = [s for under in state["files"].values() for s in under.values() if s is not None]
    changed = [s for s in stats if max(s[1], s[2]) >= started_ns]
    control_changed = any(os.stat(root / p).st_ctime_ns >= started_ns for p, h in state["control"].items() if h)
    if changed or control_changed:
        return False
    (root / STAMP).parent.mkdir(parents=True, exist_ok=True)
    tmp = (root / STAMP).with_suffix(".tmp")
    tmp.write_text(json.dumps({"argv": argv, "summary": summary, **state}))
    os.replace(tmp, root / STAMP)
    return True


def now_ns() -> int:
    """The start of a run, as file times are compared with it: 20 ms early, as the kernel stamps
    files from a clock that lags the one read here by up to a tick (10 ms at 100 Hz). A file
    changed just before the run then only costs the stamp: the next no-op asks DVC again."""
    return time.time_ns() - 20_000_000
