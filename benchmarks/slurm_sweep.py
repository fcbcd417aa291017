"""A 4-chain sweep through the SLURM profile against the same sweep one chain after another.

Four experiments of the tests' tiny kind (digits, 400 training images, 2
generations of 1 epoch) differing only in environment.factor run twice in
fresh projects: through ``snakemake --profile workflow/profiles/slurm`` on a
one-node SLURM cluster on localhost (tests/slurm_cluster.py: installed with
apt-get when missing, 2 CPUs), and with ``snakemake -c1`` one experiment
after another. Prints both wall times and their ratio, checks that both
sweeps give the same metrics, and rewrites its section of reports/benchmarks.md.

    python benchmarks/slurm_sweep.py              (as root, from the project root)
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import BIN, TINY_PARAMS, make_project, run  # noqa: E402
from sections import update_section  # noqa: E402
from slurm_cluster import slurm_cluster  # noqa: E402

FACTORS = (0.9, 0.7, 0.5, 0.3)
SNAKEMAKE = str(BIN / "snakemake")
PROFILE = "workflow/profiles/slurm"


def sweep_params() -> dict:
    """The tiny experiment four times, F = 0.9, 0.7, 0.5 and 0.3."""
    params = copy.deepcopy(TINY_PARAMS)
    tiny = params["experiments"].pop("tiny")
    for factor in FACTORS:
        params["experiments"][f"tiny_f{round(factor * 10):02d}"] = {
            **copy.deepcopy(tiny), "environment": {"factor": factor, "mode": "budget"}}
    return params


def metrics(project: Path) -> dict[str, dict]:
    """Every metrics.json of a project, by path."""
    files = sorted(project.glob("results/**/metrics.json"))
    return {str(p.relative_to(project)): json.loads(p.read_text()) for p in files}


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds of one command that must succeed, and its output."""
    started = time.perf_counter()
    result = run(cmd, cwd=cwd, timeout=3600)
    return time.perf_counter() - started, result.stdout + result.stderr


def main() -> None:
    params = sweep_params()
    targets = [f"reports/{exp}/generations.md" for exp in params["experiments"]]
    with TemporaryDirectory(prefix="evosynth-sweep-") as tmp:
        chained = make_project(Path(tmp) / "chained", params, git=False)
        sequential, load = 0.0, [os.getloadavg()[0]]
        for target in targets:
            sequential += timed([SNAKEMAKE, "-c1", target], chained)[0]
            print(f"one after another: {target} after {sequential:.0f} s", flush=True)

        slurm_project = make_project(Path(tmp) / "slurm", params, git=False)
        with slurm_cluster() as cluster:
            load.append(os.getloadavg()[0])
            slurm, output = timed([SNAKEMAKE, "--profile", PROFILE, *targets], slurm_project)
        jobs = len(re.findall(r"submitted with SLURM jobid \d+", output))
        print(f"through SLURM: {slurm:.0f} s, {jobs} jobs", flush=True)
        if metrics(slurm_project) != metrics(chained):
            raise SystemExit("the two sweeps disagree on metrics")

    ratio = slurm / sequential
    print(f"one after another {sequential:.0f} s, SLURM {slurm:.0f} s, ratio {ratio:.2f}")
    factors = ", ".join(map(str, FACTORS))
    update_section("SLURM sweep (benchmarks/slurm_sweep.py)", f"""\
Four tiny experiments (digits, 400 training images, 2 generations of 1 epoch; F = {factors}),
{jobs} jobs each way; both sweeps give identical metrics. SLURM: a one-node cluster on this machine
(`tests/slurm_cluster.py`, {cluster.cpus} CPUs, slurm-wlm 22.05) and `snakemake --profile {PROFILE}` as
shipped (training jobs ask for 2 CPUs, the others for 1). One after another: `snakemake -c1
reports/<experiment>/generations.md` for each experiment in turn.

| run | wall time |
|---|---:|
| one chain after another (`-c1`) | {sequential:.0f} s |
| 4 chains through SLURM | {slurm:.0f} s |
| SLURM / one after another | {ratio:.2f} |

Through SLURM the sweep took {ratio:.2f}× the time. Every SLURM job starts Snakemake twice (the sbatch
job and the srun step inside it) before the step itself, and Snakemake sees it finish only at its next
squeue poll (10 s after the last job it saw finish, the wait growing by 10 s at each poll that finds none):
seconds of overhead per job, against 1–3 s of computing per tiny step. Only 2 CPUs share all of it.
The 1-minute load average was {load[0]:.1f} when the first run started and {load[1]:.1f} when the second
did (other work on this shared machine slows both: compare the ratio, not the seconds).
""")

if __name__ == "__main__":
    main()
