"""Atomic, verifiable artifact files and the provenance written beside them.

Every file a step writes appears complete or not at all: it is written to a
temporary file in the same directory, flushed to disk and renamed over the
target. Checkpoints are plain dicts of tensors and builtins so that they load
with ``torch.load(..., weights_only=True)``.

Same inputs, same bytes: everything DVC and Snakemake hash (checkpoints,
logs, provenance) holds no time, host, commit or temporary file name. Those
go to a run record ``<step>.run.json`` beside the provenance, which neither
engine tracks (git ignores it).

A step's outputs and its provenance record count only together: replacing a
recorded file first removes the record that names it (so the step's other,
older outputs are no longer vouched for either), the record is written last,
and a file is loaded only when a record beside it names it with the same
sha256. A step runs inside :func:`all_or_nothing`, which removes what it had
already written when it fails: a full disk or an error leaves no output
without its record (and a killed step's leftovers are refused when loaded).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from evosynth import __version__
from evosynth.errors import ArtifactError
from evosynth.guards import before_write
from evosynth.host import cpu_flags, cpu_isa, package_versions, torch_threads

_UMASK = os.umask(0)
os.umask(_UMASK)

#: Files this process has written through :func:`atomic_path`, for :func:`all_or_nothing`.
_WRITTEN: list[Path] = []
#: What torch's zip writer says when the device is full (its C++ error is a RuntimeError).
_TORCH_WRITE_FAILED = ("inline_container.cc", "file write failed", "unexpected pos")


def _out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    return isinstance(exc, RuntimeError) and any(words in str(exc) for words in _TORCH_WRITE_FAILED)


def _records_naming(path: Path) -> list[Path]:
    """The provenance records beside ``path`` whose outputs name it (unreadable records included)."""
    found = []
    for record in sorted(path.parent.glob("*.provenance.json")):
        try:
            outputs = json.loads(record.read_text()).get("outputs", {})
            names = {Path(recorded).name for recorded in outputs}
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError, OSError):
            names = {path.name}
        if path.name in names and record != path:
            found.append(record)
    return found


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    Temporary files left by an earlier writer that was killed (SIGKILL skips
    the cleanup) are removed first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        before_write()  # e.g. a step whose engine is gone ends here (evosynth.pipeline.lifetime)
        for record in _records_naming(target):  # an old record must not vouch for the old siblings
            record.unlink(missing_ok=True)
        os.replace(tmp_path, target)
        _WRITTEN.append(target)
    except (OSError, RuntimeError) as exc:
        if not _out_of_space(exc):
            raise
        why = exc.strerror if isinstance(exc, OSError) else "the write failed, is the device full?"
        raise ArtifactError(f"{target}: could not be written ({why}); free space there and rerun") from None
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Run a step: if it fails, remove every file it wrote, so it leaves no output without its record."""
    mark = len(_WRITTEN)
    try:
        yield
    except BaseException:
        before_write()
        for path in reversed(_WRITTEN[mark:]):
            path.unlink(missing_ok=True)
        raise
    finally:
        del _WRITTEN[mark:]


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_csv(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Rows of dicts as CSV, the first row's keys as header."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON artifact, verified against the checksum its step recorded."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing (was the step that writes it run?)")
    verify(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def save_checkpoint(path: str | os.PathLike[str], kind: str, payload: dict[str, Any]) -> None:
    """Save ``payload`` (tensors and builtins only) tagged with its ``kind``.

    Saved to memory first: torch.save names the records inside its zip archive
    after the file it writes, and the temporary file's name is random.
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"kind": kind, "evosynth_version": __version__, **payload}, buffer)
    write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, refusing anything else."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing (was the step that writes it run?)")
    verify(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged files
        raise ArtifactError(f"{path}: unreadable checkpoint, truncated or corrupted ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ArtifactError(f"{path}: expected a {kind!r} checkpoint, found {found!r}")
    return data


def sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path) -> None:
    """Compare ``path`` with the sha256 recorded by the step that wrote it; refuse it without a record.

    Every step records the checksums of its outputs in ``<step>.provenance.json``
    beside them; a truncated, corrupted or swapped file is reported with the
    expected and the found checksum, before anything is computed from it. A file
    that no record names (its record deleted, or its step failed before writing
    it) is refused too: nothing is loaded unchecked.
    """
    for record in sorted(path.parent.glob("*.provenance.json")):
        try:
            outputs = json.loads(record.read_text()).get("outputs", {})
            recorded = {Path(name).name: digest for name, digest in outputs.items()}
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            raise ArtifactError(f"{record}: provenance record unreadable (corrupted?); rerun its step") from None
        if path.name in recorded:
            expected, found = recorded[path.name], sha256(path)
            if found != expected:
                raise ArtifactError(
                    f"{path}: sha256 mismatch (truncated, corrupted or swapped): expected {str(expected)[:16]}…"
                    f" as recorded in {record.name}, found {found[:16]}…"
                )
            return
    raise ArtifactError(
        f"{path}: no provenance record beside it names this file (deleted, or its step did not finish);"
        " rerun the step that writes it"
    )


def params_hash(params: Any) -> str:
    """A short, stable hash of a params section."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def provenance(step: str, params: Any, outputs: list[Path]) -> dict[str, Any]:
    """Where a step's outputs came from: code, params, packages, instruction set, checksums.

    The same for the same inputs on the same kind of machine: no time, host or
    commit (they go to :func:`run_record`), so a rerun rewrites no hashed byte.
    """
    return {
        "step": step,
        "evosynth_version": __version__,
        "params": params,
        "params_hash": params_hash(params),
        "packages": package_versions(),
        "python": platform.python_version(),
        "cpu_threads": torch_threads(),
        "cpu": cpu_isa(),
        "outputs": {str(p): sha256(p) for p in outputs},
    }


def run_record_path(provenance_path: str | os.PathLike[str]) -> Path:
    """``<step>.run.json`` beside ``<step>.provenance.json``: untracked by DVC, Snakemake and git."""
    path = Path(provenance_path)
    return path.with_name(path.name.removesuffix(".provenance.json") + ".run.json")


def run_record(started: float, **extra: Any) -> dict[str, Any]:
    """What differs from run to run: commit, host, when, how long (and ``extra`` timings)."""
    return {
        "git": _git_state(),
        "host": socket.gethostname(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": round(time.time() - started, 3),
        "cpu_flags": cpu_flags(),
        **extra,
    }
