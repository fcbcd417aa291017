"""Code dependencies derived from the import graph: no stage can miss a code change.

A stage depends on every project module its step module imports, directly or
through other project modules, at module level or inside a function (the
steps import heavy parts lazily). The graph is read from the source with
:mod:`ast`, without importing anything, so rendering ``dvc.yaml`` and
building Snakemake's DAG stay cheap.

Both engines see the closure through one *code stage* per step module:
``code-train`` depends on every file the ``train`` step runs and writes
``results/.code/train.json`` (the sha256 of each, :func:`fingerprint`); every
training stage depends on that one file. The record's bytes change exactly
when the code does, so DVC (content hashes) and Snakemake (modification
times of the code files, then of the record) rerun exactly the stages whose
code changed, and each stage lists one code dependency instead of twenty.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "evosynth"
#: The package's folder on disk, and the same folder as the pipeline files name it (from the project root).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
CODE_DIR = "src/evosynth"


def module_path(module: str, root: Path = PACKAGE_DIR) -> Path | None:
    """The source file of a project module (a package's ``__init__.py``), or None if there is none."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    """``evosynth.nets.masks`` → ``evosynth``, ``evosynth.nets``: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def direct_imports(module: str, root: Path = PACKAGE_DIR) -> frozenset[str]:
    """The project modules ``module`` imports anywhere in its source, and their packages."""
    return frozenset(p for name in explicit_imports(module, root) for p in (name, *_parents(name))) - {module}


@cache
def explicit_imports(module: str, root: Path = PACKAGE_DIR) -> frozenset[str]:
    """The project modules named by ``module``'s import statements, anywhere in its source."""
    path = module_path(module, root)
    if path is None:
        raise ValueError(f"{module}: not a module of {PACKAGE}")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            # ``from evosynth.pipeline import warm`` imports the module evosynth.pipeline.warm
            names += [f"{node.module}.{a.name}" for a in node.names if module_path(f"{node.module}.{a.name}", root)]
        for name in names:
            if name.split(".")[0] == PACKAGE and module_path(name, root):
                found.add(name)
    found.discard(module)
    return frozenset(found)


def import_closure(module: str, root: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """``module``, its packages and every project module it reaches through imports, sorted."""
    seen = {module, *_parents(module)}
    todo = list(seen)
    while todo:
        for name in direct_imports(todo.pop(), root):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return tuple(sorted(seen))


def _relative(path: Path, root: Path) -> str:
    return f"{CODE_DIR}/{path.relative_to(root).as_posix()}"


def code_files(module: str, root: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """Every source file a step module's code runs from (Snakemake's code inputs), sorted."""
    paths = {module_path(name, root) for name in import_closure(module, root)}
    return tuple(sorted(_relative(p, root) for p in paths if p is not None))


#: Every step runs through the command line: its parsing and dispatch are code of every stage.
CLI_MODULE = "evosynth.pipeline.cli"
#: Where the code stages write their records (experiment names start with a letter: no clash).
RECORD_DIR = "results/.code"


def step_module(name: str) -> str:
    """The module of a step (a file under ``evosynth/pipeline/steps``)."""
    return f"{PACKAGE}.pipeline.steps.{name}"


def stage_code(name: str, root: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """Every source file a stage running step module ``name`` depends on: its closure and the CLI's."""
    return tuple(sorted({*code_files(step_module(name), root), *code_files(CLI_MODULE, root)}))


def record_path(name: str) -> str:
    return f"{RECORD_DIR}/{name}.json"


def fingerprint(name: str, project: Path = Path(".")) -> dict[str, object]:
    """The sha256 of every file of :func:`stage_code`, as found in ``project``: a code stage's record.

    Stages depend on this small file instead of listing every module: its
    bytes change exactly when one of those files changes.
    """
    hashes = {}
    for file in stage_code(name):
        try:
            hashes[file] = hashlib.sha256((project / file).read_bytes()).hexdigest()
        except OSError as exc:
            raise ValueError(f"{file}: cannot read the code of step {name!r} ({exc.strerror})") from None
    return {"module": step_module(name), "files": hashes}


def project_modules(root: Path = PACKAGE_DIR) -> list[str]:
    """Every module of the package (for the import-cycle check)."""
    names = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = [PACKAGE, *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def import_cycles(root: Path = PACKAGE_DIR) -> list[list[str]]:
    """Cycles of the import graph (package ``__init__`` edges aside), each as a list of modules; [] if none."""
    graph = {m: set(explicit_imports(m, root)) for m in project_modules(root)}
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles

