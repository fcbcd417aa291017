"""The code a step runs is the code of the checkout it runs in, and its records say which files ran.

Two checkouts can share one environment: its editable install (or
``PYTHONPATH``) points at checkout A, and a step run in checkout B imports A's
modules. The code stages hash B's files (:mod:`evosynth.pipeline.codedeps`,
which decides what DVC and Snakemake rerun) and the run record names B's
commit, so the records would describe code that did not run.

So before a step runs, :func:`check` compares the package this interpreter
imports with the checkout's ``src/evosynth`` (the working folder's, when it
has one), source file by source file, and refuses in one line if any differs
or is missing on one side. Byte-equal sources run the same code wherever they
lie (a test's copy of the package), so only the bytes count. A working folder
without ``src/evosynth`` is a project that uses the installed package: nothing
to compare, and the records say where the package was.

After the step, :func:`ran` hashes the files the interpreter actually loaded:
``module.__file__`` of every evosynth module in ``sys.modules``. The provenance
keeps those hashes, named like the code record's files (``src/evosynth/…``) so
the two compare key by key; the run record keeps the package's folder
(:func:`where`). The warm server imports nothing of evosynth that a step run in
its own process would not (the CLI and its imports), so both record the same
bytes (``tests/test_warm.py``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from evosynth.errors import CodeError
from evosynth.pipeline.codedeps import CODE_DIR, PACKAGE, PACKAGE_DIR

#: What the package runs or reads as code: its modules and its data (the params schema).
SOURCE_SUFFIXES = (".py", ".json")


def checkout_of(folder: Path) -> Path | None:
    """The package folder of the checkout ``folder`` is, or None when it holds no ``src/evosynth``."""
    package = folder / CODE_DIR
    return package if (package / "__init__.py").is_file() else None


def sources(package: Path) -> dict[str, Path]:
    """Every source file of a package folder (what a checkout is compared by), keyed by its path inside it."""
    return {p.relative_to(package).as_posix(): p for p in package.rglob("*")
            if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts and p.is_file()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(folder: Path | None = None) -> None:
    """Refuse to run a step in ``folder`` (default: the working folder) if it is a checkout whose
    package sources are not, byte for byte, those of the package this interpreter imports."""
    folder = Path.cwd() if folder is None else folder
    package = checkout_of(folder)
    if package is None or package.resolve() == PACKAGE_DIR:
        return
    imported, here = sources(PACKAGE_DIR), sources(package)
    for name in sorted(imported.keys() | here.keys()):
        if name not in here:
            problem = f"{CODE_DIR}/{name} is missing from {folder.resolve()}"
        elif name not in imported:
            problem = f"{CODE_DIR}/{name} is only in {folder.resolve()}"
        elif _digest(imported[name]) != _digest(here[name]):
            problem = f"{CODE_DIR}/{name} differs from {folder.resolve()}'s"
        else:
            continue
        raise CodeError(
            f"this step would run the evosynth package in {PACKAGE_DIR}, not this checkout's: {problem};"
            f" run with PYTHONPATH={folder.resolve() / 'src'} or install this checkout"
            f" (pip install -e {folder.resolve()})"
        )


def loaded() -> dict[str, Path]:
    """Every evosynth module of this process that came from a file, and that file."""
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == PACKAGE or name.startswith(f"{PACKAGE}.")) and path:
            files[name] = Path(path).resolve()
    return files


def ran() -> dict[str, str]:
    """The sha256 of each evosynth file this process loaded, as the code record names it
    (``src/evosynth/…``; a file loaded from outside the package folder by its absolute path)."""
    hashes = {}
    for path in loaded().values():
        try:
            name = f"{CODE_DIR}/{path.relative_to(PACKAGE_DIR).as_posix()}"
        except ValueError:
            name = str(path)  # not from the package folder at all: say where it came from
        try:
            hashes[name] = _digest(path)
        except OSError:
            hashes[name] = "unreadable"
    return dict(sorted(hashes.items()))


def where() -> dict[str, str | None]:
    """Where the code came from, for the run record: the package folder and the checkout run in, if any."""
    folder = Path.cwd().resolve()
    return {"package": str(PACKAGE_DIR), "checkout": str(folder) if checkout_of(folder) else None}
