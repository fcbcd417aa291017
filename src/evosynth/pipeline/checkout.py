"""The code a step runs is the code of the checkout it runs in, and its records say which files ran.

Two checkouts can share one environment: its editable install (or
``PYTHONPATH``) points at checkout A, and a step run in checkout B imports A's
modules. The code stages hash B's files (:mod:`evosynth.pipeline.codedeps`,
which decides what DVC and Snakemake rerun) and the run record names B's
commit, so the records would describe code that did not run.

So before a step runs, :func:`check` compares its code — the closure of its
step module and of the CLI (:func:`codedeps.stage_code`) — in the package this
interpreter imports with the same files of the checkout (the working folder,
when it holds ``src/evosynth``) and refuses, in one line, if any differs. Byte
equal files run the same code wherever they lie (a test's copy of the
package), so only the bytes are compared. A working folder without
``src/evosynth`` is a project that uses the installed package: nothing to
compare, and the records say where the package was.

After the step, :func:`ran` hashes the files the interpreter actually loaded:
``module.__file__`` of every evosynth module in ``sys.modules`` that belongs to
the step's code. The provenance keeps those hashes (named like the code record's
files, so the two compare key by key); the run record keeps the package's folder.
Modules outside the step's code (the warm server imports every step's
common modules ahead) are left out, so a warm and a cold run record the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from evosynth.errors import CodeError
from evosynth.pipeline.codedeps import CODE_DIR, PACKAGE, PACKAGE_DIR, stage_code


def checkout_of(folder: Path) -> Path | None:
    """The package folder of the checkout ``folder`` is, or None when it holds no ``src/evosynth``."""
    package = folder / CODE_DIR
    return package if (package / "__init__.py").is_file() else None


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def check(step_module: str, folder: Path | None = None) -> None:
    """Refuse to run step module ``step_module`` (``train``) in ``folder`` (default: the working folder)
    if that checkout's code for it is not the code this interpreter imports."""
    folder = Path.cwd() if folder is None else folder
    package = checkout_of(folder)
    if package is None or package.resolve() == PACKAGE_DIR:
        return
    for file in stage_code(step_module):
        relative = file.removeprefix(f"{CODE_DIR}/")
        imported, here = PACKAGE_DIR / relative, package / relative
        if _digest(imported) != _digest(here):
            state = "differs from" if here.is_file() else "is missing from"
            raise CodeError(
                f"this step would run the evosynth package in {PACKAGE_DIR}, not this checkout's: its"
                f" {file} {state} {folder.resolve()}'s; run with PYTHONPATH={folder.resolve() / 'src'}"
                f" or install this checkout (pip install -e {folder.resolve()})"
            )


def loaded() -> dict[str, Path]:
    """Every evosynth module of this process that came from a file, and that file."""
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == PACKAGE or name.startswith(f"{PACKAGE}.")) and path:
            files[name] = Path(path).resolve()
    return files


def ran(step_module: str) -> dict[str, str]:
    """The sha256 of each file of the step's code that this process loaded, as the code record names it
    (``src/evosynth/…``; a file loaded from outside the package folder by its absolute path)."""
    code = set(stage_code(step_module))
    hashes = {}
    for path in loaded().values():
        try:
            name = f"{CODE_DIR}/{path.relative_to(PACKAGE_DIR).as_posix()}"
        except ValueError:
            name = str(path)  # not from the package folder at all: say where it came from
        if name in code or not name.startswith(CODE_DIR):
            hashes[name] = _digest(path) or "unreadable"
    return dict(sorted(hashes.items()))


def where() -> dict[str, str | None]:
    """Where the code came from, for the run record: the package folder and the checkout run in, if any."""
    here = checkout_of(Path.cwd())
    return {"package": str(PACKAGE_DIR), "checkout": os.fspath(here.resolve().parent.parent) if here else None}
