"""A no-op ``dvc repro`` and ``dvc status`` of this project against DVC's own cost for as many trivial stages.

The twin is built in a temporary folder: a git + DVC project with the same
number of stages split over the same pipeline files (the root ``dvc.yaml``
and each ``pipelines/<name>/dvc.yaml``), every stage trivial (one dependency,
one output, chained within its file, a command that writes it; the first
stage of ``dvc.yaml`` also reads the last output of every other file, so that
a plain ``dvc repro`` checks them all, as the project's reports reach every
chain), committed with ``dvc commit`` so that nothing needs to run. A second twin gives every stage the project's own
number of dependencies, outputs and params keys (``same shape``): what DVC
costs per file it checks, apart from anything the project adds. All three
are timed side by side, interleaved, ``--repeats`` times; the quiet wrapper
``workflow/scripts/repro.py`` is timed on the project too, twice: asking DVC
(its stamp removed first) and answered from the stamp that run leaves; the lines each
command prints are counted. Run it on an up-to-date checkout (``dvc status``
clean) on a quiet machine:

    python benchmarks/noop_cost.py --repeats 5
    python benchmarks/noop_cost.py --project /tmp/small --repeats 1   # any up-to-date DVC project (prints only)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).parent / "dvc")
QUIET = [sys.executable, str(ROOT / "workflow" / "scripts" / "repro.py")]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
from uptodate import STAMP  # noqa: E402  (where the wrapper keeps its stamp)

ASKED, STAMPED = "project: workflow/scripts/repro.py, DVC asked", "project: workflow/scripts/repro.py, from its stamp"

#: One stage's shape: how many dependencies, outputs and params keys it has.
Shape = tuple[int, int, int]


def pipeline_files(project: Path) -> list[Path]:
    """Every pipeline file DVC reads in ``project``: the root dvc.yaml, then pipelines/*/dvc.yaml."""
    return [p for p in [project / "dvc.yaml", *sorted(project.glob("pipelines/*/dvc.yaml"))] if p.is_file()]


def _params(stage: dict) -> int:
    count = 0
    for item in stage.get("params") or []:
        count += sum(len(keys or [1]) for keys in item.values()) if isinstance(item, dict) else 1
    return count


def layout(project: Path) -> dict[str, list[Shape]]:
    """Per pipeline file (relative path), the shape of each of its stages."""
    def shape(stage: dict) -> Shape:
        outs = sum(len(stage.get(k) or []) for k in ("outs", "metrics", "plots"))
        return len(stage.get("deps") or []), outs, _params(stage)

    return {f.relative_to(project).as_posix(): [shape(s) for s in (yaml.safe_load(f.read_text()).get("stages") or {}).values()]
            for f in pipeline_files(project)}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)


def build_twin(folder: Path, files: dict[str, list[Shape]], same_shape: bool) -> Path:
    """A committed DVC project in ``folder`` with ``files``' stages, trivial or of the same shape; no-op clean."""
    folder.mkdir(parents=True)
    _run(["git", "init", "-q"], folder)
    _run([DVC, "init", "-q"], folder)
    shapes = [s for v in files.values() for s in v]
    inputs = [f"in/{k}.txt" for k in range(max((d for d, _, _ in shapes), default=1) if same_shape else 1)]
    for path in inputs:
        (folder / path).parent.mkdir(exist_ok=True)
        (folder / path).write_text(f"{path}\n")
    keys = max((p for _, _, p in shapes), default=0)
    (folder / "params.yaml").write_text(yaml.safe_dump({f"k{i}": i for i in range(max(keys, 1))}))
    ends: list[str] = []  # the last output of each file under pipelines/: plain `dvc repro` reaches them from dvc.yaml
    for name, file_shapes in sorted(files.items(), key=lambda item: item[0] == "dvc.yaml"):
        base = (folder / name).parent
        base.mkdir(parents=True, exist_ok=True)
        rel = os.path.relpath(folder, base)
        tag = name.replace("/", "_").removesuffix(".yaml")
        (folder / "out" / tag).mkdir(parents=True)
        made: list[str] = []  # this file's outputs so far, the latest first
        stages = {}
        for i, (deps, outs, params) in enumerate(file_shapes):
            own = [f"out/{tag}/s{i}_{k}.txt" for k in range(max(outs, 1) if same_shape else 1)]
            for path in own:
                (folder / path).write_text(f"{path}\n")
            needed = [*made[:1], *inputs] if not same_shape else [*made, *inputs]
            needed = needed[: max(deps, 1) if same_shape else 1]
            if name == "dvc.yaml" and i == 0:
                needed = [*needed, *ends]
            outputs = [os.path.normpath(f"{rel}/{o}") for o in own]
            stage = {"cmd": " && ".join(f"echo {path} > {out}" for path, out in zip(own, outputs)),
                     "deps": [os.path.normpath(f"{rel}/{d}") for d in needed], "outs": outputs}
            if same_shape and params:
                stage["params"] = [{os.path.normpath(f"{rel}/params.yaml"): [f"k{k}" for k in range(params)]}]
            stages[f"s{i}"] = stage
            made = [own[0], *made]
        ends += made[:1]
        (folder / name).write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    _run([DVC, "commit", "-f", "-q"], folder)
    _run(["git", "add", "-A"], folder)
    _run(["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "twin"], folder)
    status = _run([DVC, "status"], folder).stdout
    if "up to date" not in status:
        raise RuntimeError(f"the twin in {folder} is not up to date:\n{status}")
    return folder


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds of one run of ``cmd`` in ``cwd``, and the lines it printed."""
    started = time.perf_counter()
    result = _run(cmd, cwd)
    return time.perf_counter() - started, len((result.stdout + result.stderr).splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="an up-to-date DVC project (default: this checkout)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    project = args.project.resolve()
    status = subprocess.run([DVC, "status"], cwd=project, capture_output=True, text=True, check=False)
    if status.returncode != 0 or "up to date" not in status.stdout:
        parser.error(f"{project} is not up to date (dvc status lists stages): run `dvc repro` first")
    files = layout(project)
    stages = sum(len(s) for s in files.values())
    with tempfile.TemporaryDirectory(prefix="noop-twin-") as tmp:
        trivial = build_twin(Path(tmp) / "trivial", files, same_shape=False)
        shaped = build_twin(Path(tmp) / "shaped", files, same_shape=True)
        runs = {  # (label, command, folder)
            "project: dvc repro": ([DVC, "repro"], project),
            ASKED: (QUIET, project),
            STAMPED: (QUIET, project),
            "trivial twin: dvc repro": ([DVC, "repro"], trivial),
            "same-shape twin: dvc repro": ([DVC, "repro"], shaped),
            "project: dvc status": ([DVC, "status"], project),
            "trivial twin: dvc status": ([DVC, "status"], trivial),
            "same-shape twin: dvc status": ([DVC, "status"], shaped),
        }
        seconds: dict[str, list[float]] = {label: [] for label in runs}
        lines: dict[str, int] = {}
        before = os.getloadavg()[0]
        for _ in range(args.repeats):  # interleaved: a change of load hits every command alike
            for label, (cmd, cwd) in runs.items():
                if label == ASKED:
                    (project / STAMP).unlink(missing_ok=True)
                elif label == STAMPED and not (project / STAMP).is_file():
                    raise RuntimeError(f"the wrapper left no stamp in {project}: did a file change during the run?")
                wall, lines[label] = timed(cmd, cwd)
                seconds[label].append(wall)
        after = os.getloadavg()[0]
    base = {"repro": statistics.median(seconds["trivial twin: dvc repro"]),
            "status": statistics.median(seconds["trivial twin: dvc status"])}
    table = ["| command (nothing changed) | median s | min s | max s | × trivial twin | lines printed |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, times in seconds.items():
        ratio = statistics.median(times) / base["status" if "status" in label else "repro"]
        table.append(f"| {label} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f}"
                     f" | {ratio:.2f} | {lines[label]} |")
    shapes = [s for v in files.values() for s in v]
    note = (f"{stages} stages in {len(files)} pipeline files, {args.repeats} runs each, interleaved; the project's"
            f" stages have on average {statistics.mean(d for d, _, _ in shapes):.1f} dependencies,"
            f" {statistics.mean(o for _, o, _ in shapes):.1f} outputs and {statistics.mean(p for _, _, p in shapes):.1f}"
            f" params keys (trivial twin: 1, 1, 0); target: within 1.5× of the trivial twin;"
            f" 1-minute load average {before:.2f} before, {after:.2f} after.")
    text = "\n".join(table) + "\n\n" + note
    if project == ROOT:
        from sections import publish

        publish("No-op dvc repro against DVC's own cost", text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
