"""Mutation testing of the numerical core with mutmut (pinned in requirements-dev.txt); not part of CI.

Each module is mutated on its own, in a scratch folder (default ``/tmp/evosynth-mutation/<module>``)
holding a copy of ``src/`` and ``tests/`` and a ``pyproject.toml`` whose ``[tool.mutmut]`` section
names that one module (``only_mutate``) and only the fast tests that cover it
(``pytest_add_cli_args_test_selection``; ``-m "not slow"``), so each run is short. mutmut copies the
folder to ``mutants/``, puts ``mutants/src`` first on ``sys.path`` and remembers every verdict there:
a second run resumes, retests only the functions whose source changed, and ``--retest`` first reruns the
surviving mutants (after new tests), then resumes. The torch tests run in mutmut's fork-server isolation.

The score per module is killed / (checked mutants − equivalent ones − timed-out ones), "no tests"
counting as a survivor and a timeout as undecided (``--retest`` runs those again too); the equivalent mutants are listed, with the reason, in
``benchmarks/mutation_equivalent.txt`` (``name<TAB>reason``). Survivors are printed by name
(``--show`` prints their diffs, ``mutmut show NAME`` run inside the module's folder one of them).

    pip install -r requirements-dev.txt
    python benchmarks/mutation.py                     # every module (hours on a quiet machine)
    python benchmarks/mutation.py evolution/stress.py nets/masks.py --max-children 2
    python benchmarks/mutation.py --report            # the table of what has run, without running
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path("src/evosynth")
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.txt"

#: module (under src/evosynth) -> the fast test files (or ``file::test`` ids) that cover it
MODULES: dict[str, list[str]] = {
    "evolution/stress.py": ["test_stress_draws.py", "test_stress.py"],
    "evolution/encoding.py": ["test_encoding.py", "test_clusters.py", "test_stress_draws.py", "test_mating_residual.py"],
    "evolution/environment.py": [
        "test_environment.py", "test_synthesis.py", "test_clusters.py",
        "test_additions.py::test_adaptive_environment_slows_the_shrink_only_past_the_tolerance",
    ],
    "evolution/mating.py": ["test_mating.py", "test_mating_residual.py"],
    "evolution/synthesis.py": ["test_synthesis.py", "test_clusters.py", "test_mating_residual.py"],
    "evolution/calibration.py": ["test_calibration.py"],
    "nets/masks.py": ["test_masks.py", "test_masked_optimizer.py", "test_metrics.py"],
    "nets/compaction.py": ["test_compaction.py", "test_masked_optimizer.py", "test_metrics.py"],
    "nets/coupling.py": ["test_mating_residual.py", "test_architectures.py"],
    "training.py": ["test_training.py", "test_masked_optimizer.py", "test_additions.py", "test_stress_last_epoch.py"],
    "analysis/metrics.py": ["test_metrics.py", "test_compaction.py"],
    "reporting/evidence.py": ["test_evidence.py"],
    # the verdict logic the evidence report calls: usable ranges, forms and verdicts; trajectories and t interval
    "reporting/claims.py": ["test_claims.py", "test_evidence.py"],
    "reporting/trajectories.py": ["test_claims.py", "test_evidence.py"],
    "reporting/picks.py": ["test_pickset.py"],
}

#: tests of those files that run the workflow engines (minutes each, and in subprocesses mutmut cannot trace)
ENGINE_TESTS = [
    "tests/test_evidence.py::test_snakemake_evidence_target_runs_every_seed_from_its_own_ancestor",
    "tests/test_evidence.py::test_evidence_target_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default",
    "tests/test_pickset.py::test_pickset_target_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default",
    "tests/test_additions.py::test_every_addition_runs_through_the_evosynth_steps",
]

#: files the tests read relative to the project root (mutmut runs them inside ``mutants/``); ``reports``: the cost
#: benchmarks' tests read the committed runtime measurement (reports/fmnist_evonet/runtime.json)
ALSO_COPY = ["params.yaml", "params-paper.yaml", "workflow", ".dvcignore", "benchmarks", "reports"]


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def pyproject(module: str) -> str:
    """The project's pytest settings and a ``[tool.mutmut]`` section for one module."""
    project = (ROOT / "pyproject.toml").read_text()
    pytest_section = project[project.index("[tool.pytest.ini_options]"):]
    pytest_section = pytest_section[: pytest_section.index("\n[", 1)] if "\n[" in pytest_section[1:] else pytest_section

    def array(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    tests = [f"tests/{name}" for name in MODULES[module] if (ROOT / "tests" / name.split("::")[0]).exists()]
    return "\n".join([
        pytest_section.rstrip(),
        "",
        "[tool.mutmut]",
        'source_paths = ["src/"]',
        f'only_mutate = ["{PACKAGE / module}"]',
        f"pytest_add_cli_args_test_selection = {array(tests)}",
        "pytest_add_cli_args = "
        + array(["-m", "not slow", "-p", "no:cacheprovider",
                 *(f"--deselect={t}" for t in ENGINE_TESTS if t.split("::")[0] in {x.split("::")[0] for x in tests})]),
        f"also_copy = {array(ALSO_COPY)}",
        'process_isolation = "forkserver"',
        # the wall-clock limit is half the CPU limit: on a shared, loaded machine the defaults (15×, +1 s)
        # time out mutants whose tests merely waited for a core
        "timeout_multiplier = 60.0",
        "timeout_constant = 30.0",
        "",
    ])


def prepare(module: str, workdir: Path) -> Path:
    """The module's scratch folder with fresh copies of the sources and tests (its ``mutants/`` kept)."""
    folder = workdir / slug(module)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests", *ALSO_COPY):
        source, target = ROOT / name, folder / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, target)
    # a source file edited since the last run: mutmut regenerates its mutants, but copies the other
    # (unmutated) files into mutants/ only once, so refresh those too
    mutated = folder / "mutants" / "src"
    if mutated.exists():
        for path in (folder / "src").rglob("*.py"):
            copy = mutated / path.relative_to(folder / "src")
            if path.relative_to(folder) != PACKAGE / module and copy.exists() and copy.read_bytes() != path.read_bytes():
                shutil.copy2(path, copy)
    (folder / "pyproject.toml").write_text(pyproject(module))
    return folder


def mutmut(folder: Path, *args: str, log=None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("mutmut")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mutmut"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutants/src must be the only evosynth
    env.update(EVOSYNTH_WARM="0", EVOSYNTH_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               # pytest's temporary folders of its own: a session cleaning up the shared
               # /tmp/pytest-of-<user> of other runs can stall for minutes on a busy machine
               PYTEST_DEBUG_TEMPROOT=str(folder / "pytest-tmp"))
    (folder / "pytest-tmp").mkdir(exist_ok=True)
    output = {"capture_output": True} if log is None else {"stdout": log, "stderr": subprocess.STDOUT}
    return subprocess.run([*command, *args], cwd=folder, env=env, text=True, check=False, **output)


def statuses(folder: Path) -> dict[str, str]:
    """Mutant name -> mutmut's verdict (killed, survived, no tests, timeout, not checked, ...)."""
    if not (folder / "mutants").exists():
        return {}
    out = mutmut(folder, "results", "--all", "true").stdout
    result = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith("evosynth."):
            result[name] = status
    return result


def equivalent() -> dict[str, str]:
    """Mutants judged equivalent (no behaviour of the module can tell them apart), with the reason."""
    if not EQUIVALENT.exists():
        return {}
    rows = (line.split("\t", 1) for line in EQUIVALENT.read_text().splitlines() if line and not line.startswith("#"))
    return {name.strip(): reason.strip() for name, reason in rows}


def score(found: dict[str, str], same: dict[str, str]) -> dict[str, object]:
    """Counts and killed / (checked − equivalent − timed out).

    "no tests" counts as a survivor. A timeout is left out (undecided): mutmut's wall-clock limit
    also trips when a loaded machine merely delays the tests, so it is no evidence of a kill.
    """
    checked = {n: s for n, s in found.items() if s != "not checked"}
    killed = [n for n, s in checked.items() if s == "killed"]
    timeout = [n for n, s in checked.items() if s == "timeout"]
    equal = [n for n, s in checked.items() if n in same and s not in ("killed", "timeout")]
    alive = [n for n, s in checked.items() if n not in killed and n not in timeout and n not in equal]
    counted = len(killed) + len(alive)
    return {"mutants": len(found), "checked": len(checked), "killed": len(killed), "equivalent": len(equal),
            "timeout": timeout, "survived": alive,
            "score": 100.0 * len(killed) / counted if counted else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules under src/evosynth (default: all {len(MODULES)})")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/evosynth-mutation"))
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--report", action="store_true", help="print the table of the runs so far, run nothing")
    parser.add_argument("--retest", action="store_true",
                        help="rerun the surviving mutants first (after new tests), then resume")
    parser.add_argument("--show", action="store_true", help="print the diff of every surviving mutant")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        print(f"unknown module {', '.join(unknown)}; known: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    if importlib.util.find_spec("mutmut") is None:
        print("mutmut is not installed in this environment: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    modules = args.modules or list(MODULES)
    same = equivalent()
    rows = []
    for module in modules:
        folder = args.workdir / slug(module)
        if not args.report:
            folder = prepare(module, args.workdir)
            with open(folder / "mutmut.log", "a") as log:
                if args.retest:  # first, so that tests added since a stopped run count before the rest runs
                    alive = [n for n, s in statuses(folder).items()
                             if s in ("survived", "no tests", "suspicious", "timeout")]
                    if alive:
                        mutmut(folder, "run", "--max-children", str(args.max_children), *alive, log=log)
                mutmut(folder, "run", "--max-children", str(args.max_children), log=log)
        found = statuses(folder)
        if not found:
            rows.append((module, None))
            continue
        rows.append((module, score(found, same)))
        print(f"{module}: {rows[-1][1]['score']:.1f} % ({rows[-1][1]['killed']} killed)", flush=True)
    print("\n| module | mutants | checked | killed | equivalent | timed out | surviving | score |")
    print("|:---|---:|---:|---:|---:|---:|---:|---:|")
    for module, row in rows:
        if row is None:
            print(f"| `{module}` | not run | | | | | | |")
        else:
            print(f"| `{module}` | {row['mutants']} | {row['checked']} | {row['killed']} | {row['equivalent']} |"
                  f" {len(row['timeout'])} | {len(row['survived'])} | {row['score']:.1f} % |")
    for module, row in rows:
        if row and row["survived"]:
            print(f"\nsurviving in {module}:")
            for name in row["survived"]:
                print(f"  {name}")
                if args.show:
                    print(mutmut(args.workdir / slug(module), "show", name).stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
