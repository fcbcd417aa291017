"""Hand a finished workflow from one engine to the other (``evosynth handover``; docs/engines.md).

DVC decides what to rerun from file contents and its ``dvc.lock`` files; Snakemake
from its own metadata (``.snakemake/metadata``: each job's rule code, params,
input list and input checksums) and, for an input newer than the job's oldest
output, from that input's checksum recorded there. Files one engine made carry
no record of the other: after ``dvc repro`` (or a fresh clone, whose files all
carry clone-time modification times) Snakemake sees inputs newer than outputs
and no checksums to clear them, so it would rerun the whole DAG; after
``snakemake`` the ``dvc.lock`` files do not name what it wrote.

Each direction first asks the engine that ran whether it has finished (nothing
to do), then lets the other engine record the files as they are, with its own
command for that, and checks that it now has nothing to do:

* to Snakemake: ``dvc status`` clean, then ``snakemake --touch``: Snakemake
  records its metadata (input checksums included) for every job it would have
  run and touches the outputs in dependency order, without running a step;
* to DVC: ``snakemake --dry-run`` with nothing to do, then DVC's own stages
  (the params slices, render_dvc._slice_params) reproduced, then ``dvc commit``,
  which records every stage's dependencies and outputs in its ``dvc.lock``
  (and the cached outputs in DVC's cache), then ``snakemake --touch`` again for
  the outputs the commit relinked.

Both engines run the same commands on the same inputs (one plan), so the files
one engine made are the files the other would have made.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evosynth.errors import EvosynthError

#: What ``snakemake --dry-run`` prints when every job is done (Snakemake 9).
NOTHING_TO_DO = "Nothing to be done"


def _run(cmd: list[str], project: Path) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).parent / cmd[0]  # the engines installed with evosynth, also when not on PATH
    try:
        result = subprocess.run([str(beside) if beside.is_file() else cmd[0], *cmd[1:]], cwd=project,
                                capture_output=True, text=True)
    except FileNotFoundError:
        raise EvosynthError(f"{cmd[0]}: not found; activate the project's environment (./setup.sh)") from None
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise EvosynthError(f"`{' '.join(cmd)}` failed ({result.returncode}): {last}")
    return result


def _named(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def dvc_stale(project: Path) -> list[str]:
    """The stages ``dvc status`` reports as changed (empty: DVC has nothing to do)."""
    return sorted(json.loads(_run(["dvc", "status", "--json"], project).stdout or "{}"))


def snakemake_pending(project: Path) -> dict[str, int]:
    """Jobs per rule a dry run of Snakemake's default target plans (empty: it has nothing to do)."""
    out = _run(["snakemake", "--dry-run", "--quiet", "rules"], project)
    text = out.stdout + out.stderr
    if NOTHING_TO_DO in text or "Job stats:" not in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = (line.split() for line in table.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) >= 2 and row[1].isdigit() and row[0] not in ("all", "total")}


def _jobs(pending: dict[str, int]) -> str:
    return f"{sum(pending.values())} jobs ({_named([f'{rule} {n}' for rule, n in pending.items()])})"


def _touch(project: Path) -> None:
    """Snakemake's metadata for every job it would run, its outputs touched in dependency order; nothing runs."""
    _run(["snakemake", "--touch", "--cores", "1", "--quiet", "all"], project)


def to_snakemake(project: Path) -> None:
    """After DVC: record DVC's finished files in Snakemake's metadata (``snakemake --touch``)."""
    stale = dvc_stale(project)
    if stale:
        raise EvosynthError(f"DVC has not finished: {len(stale)} stages changed ({_named(stale)});"
                            " run `dvc repro` (or `dvc pull`) first, then hand over")
    _touch(project)
    pending = snakemake_pending(project)
    if pending:
        raise EvosynthError(f"snakemake --touch left {_jobs(pending)} to run: their outputs are missing")


def _dvc_only_stages(project: Path) -> list[str]:
    """DVC's stages Snakemake has no rule for: each dvc.yaml's params slice, as DVC addresses them."""
    import yaml

    names = []
    for path in [project / "dvc.yaml", *sorted(project.glob("pipelines/*/dvc.yaml"))]:
        stages = (yaml.safe_load(path.read_text()) or {}).get("stages", {})
        names += [f"{path.relative_to(project).as_posix()}:{name}" for name in stages if name.startswith("params-")]
    return names


def to_dvc(project: Path) -> None:
    """After Snakemake: reproduce DVC's own stages, then record every stage in dvc.lock (``dvc commit``)."""
    pending = snakemake_pending(project)
    if pending:
        raise EvosynthError(f"Snakemake has not finished: {_jobs(pending)} to run;"
                            " run `snakemake` first, then hand over")
    slices = _dvc_only_stages(project)
    if slices:
        _run(["dvc", "repro", "--single-item", "--quiet", *slices], project)
    _run(["dvc", "commit", "--force", "--quiet"], project)
    # dvc commit moves cached outputs into DVC's cache and links them back: the same bytes with new times,
    # which Snakemake clears by checksum only up to max-checksum-file-size; it had nothing to do, so touch
    _touch(project)
    stale = dvc_stale(project)
    if stale:
        raise EvosynthError(f"dvc commit left stages changed: {_named(stale)}")


def main(to: str, project: Path) -> None:
    """``evosynth handover --to <engine>``: hand the finished workflow in ``project`` to ``to``."""
    (to_snakemake if to == "snakemake" else to_dvc)(project)
    other = "dvc" if to == "snakemake" else "snakemake"
    print(f"handed over from {other} to {to}: `{'snakemake -n' if to == 'snakemake' else 'dvc status'}`"
          " has nothing to do", file=sys.stderr)
