"""What a warm server's code is: its key, and the files it imported (:mod:`evosynth.pipeline.warm`).

The key names everything that decides what a server runs and that a client
can see cheaply before it connects: the user, the checkout (the evosynth
package's path) and the bytes of its sources, the interpreter, the installed
distributions on the search path (:func:`site_identity`) and the environment
variables read as torch loads (the numerics of :mod:`evosynth.pipeline.numerics`
among them). A file edited in place under an installed package changes none of
these: the server compares the files it imported (:func:`loaded_files`) before
each step (:func:`changed_files`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Sequence

from evosynth.host import ISA_ENV
from evosynth.pipeline import numerics

#: Environment variables read when torch (or its thread pools) start: part of the server's key.
IMPORT_TIME_ENV = tuple(dict.fromkeys((
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED", "PYTHONPATH", "PYTHONHOME",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "TORCH_HOME", "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE",
    "GOMP_SPINCOUNT", "OMP_WAIT_POLICY",  # how long torch's idle OpenMP threads spin (docs/numerics.md)
    *ISA_ENV, *numerics.ENV_NAMES,
)))
PACKAGE = Path(__file__).resolve().parent.parent  # the whole evosynth package: edited code gets a new server


def _stamp(path: str | Path) -> tuple[int, int] | None:
    """A file's modification time and size (None if it is gone): cheap, and changed by any rewrite."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


#: The files of a distribution's metadata folder that name its version and its files.
_DIST_FILES = ("METADATA", "PKG-INFO", "RECORD", "direct_url.json")


def site_identity(paths: Sequence[str] | None = None) -> list[tuple[str, tuple[int, int] | None]]:
    """The installed distributions on the search path, cheaply: the stamps of their metadata files.

    For every folder of ``paths`` (default ``sys.path``): each ``*.dist-info`` and
    ``*.egg-info``'s METADATA/PKG-INFO, RECORD and direct_url.json, and each
    ``.pth`` file. Installing, upgrading or removing a distribution rewrites
    them; the files of a package edited by hand are checked by the server
    itself (:func:`loaded_files`).
    """
    found = []
    for entry in sys.path if paths is None else paths:
        folder = Path(entry or ".").resolve()
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # a zip file or a missing folder: its own stamp
            found.append((str(folder), _stamp(folder)))
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                found += [(f"{folder}/{name}/{f}", _stamp(folder / name / f)) for f in _DIST_FILES]
            elif name.endswith(".pth"):
                found.append((f"{folder}/{name}", _stamp(folder / name)))
    return found


def server_key(package: Path = PACKAGE, environ: dict[str, str] | None = None,
               paths: Sequence[str] | None = None) -> str:
    """What a server's code and start-up depend on: interpreter, evosynth's sources, the installed
    distributions on ``paths`` (default ``sys.path``), import-time env."""
    environ = os.environ if environ is None else environ
    interpreter = os.path.realpath(sys.executable)
    digest = hashlib.sha256(
        f"{os.getuid()}\0{package}\0{sys.executable}\0{interpreter}\0{_stamp(interpreter)}\0{sys.version}\0".encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(package)}\0".encode() + path.read_bytes())
    for name, stamp in site_identity(paths):
        digest.update(f"{name}={stamp}\0".encode())
    for name in IMPORT_TIME_ENV:
        digest.update(f"{name}={environ.get(name)}\0".encode())
    return digest.hexdigest()[:20]


def loaded_files() -> dict[str, tuple[int, int] | None]:
    """The stamp of every file this process imported a module from (Python sources and extensions)."""
    files = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files[path] = _stamp(path)
    return files


def changed_files(loaded: dict[str, tuple[int, int] | None]) -> list[str]:
    """The files of ``loaded`` (:func:`loaded_files`) whose stamp differs now: code this process runs stale."""
    return [path for path, stamp in loaded.items() if _stamp(path) != stamp]
