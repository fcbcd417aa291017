#!/usr/bin/env python
"""Peak memory of the default experiment's heaviest step, measured on this machine.

Runs ``evosynth train`` for generation 0 of ``fmnist_evonet`` (the ancestor's
``stress_train``: LeNet5-Caffe on the full Fashion-MNIST, 60k training images)
as a subprocess, exactly as dvc.yaml runs it, and records its peak resident set
size two ways: the kernel's own figure for the finished child (``wait4``
``ru_maxrss``) and the largest ``VmHWM``/``VmRSS`` seen while polling
``/proc/<pid>/status``. Prints the figures against the target (≤ 2 GiB) and
writes them to the "## Peak memory" section of ``reports/benchmarks.md``
(other sections of that file are left as they are).

Nothing is written into the repository besides that section: the step runs in a
temporary folder on a copy of params.yaml; if ``data/prepared/fashion_mnist.npz``
is missing it is prepared into the temporary folder.

    python benchmarks/peak_rss.py                 # the step as configured (3 epochs)
    python benchmarks/peak_rss.py --epochs 1      # shorter; the report says so
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "benchmarks.md"
SECTION = "## Peak memory"
TARGET_BYTES = 2 * 1024**3
GiB, MiB = 1024**3, 1024**2


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def total_memory() -> int | None:
    try:
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        return int(match.group(1)) * 1024 if match else None
    except OSError:
        return None


def evosynth_command() -> str:
    found = shutil.which("evosynth", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        sys.exit("peak_rss: the `evosynth` command is not installed in this environment")
    return found


class Poller(threading.Thread):
    """Largest VmHWM / VmRSS of a process, read from /proc every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.hwm = self.rss = 0
        self.done = threading.Event()

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self.done.is_set():
            try:
                text = status.read_text()
            except OSError:
                return
            for key in ("VmHWM", "VmRSS"):
                match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
                if match:
                    value = int(match.group(1)) * 1024
                    if key == "VmHWM":
                        self.hwm = max(self.hwm, value)
                    else:
                        self.rss = max(self.rss, value)
            self.done.wait(self.interval)


def prepare_data(params_file: Path, dataset: str, work: Path) -> Path:
    existing = ROOT / "data" / "prepared" / f"{dataset}.npz"
    if existing.is_file():
        return existing
    out = work / "prepared"
    print(f"peak_rss: {existing.relative_to(ROOT)} missing; preparing {dataset} into {out}", flush=True)
    subprocess.run([evosynth_command(), "prepare", "--params", str(params_file), "--dataset", dataset,
                    "--out-dir", str(out)], check=True, cwd=work)
    return out / f"{dataset}.npz"


def measure(experiment: str, epochs: int | None, keep: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="evosynth-peak-rss-"))
    try:
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        spec = params["experiments"][experiment]
        if epochs is not None:
            spec["train"]["ancestor_epochs"] = epochs
        params_file = work / "params.yaml"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        data = prepare_data(params_file, spec["dataset"], work)
        cmd = [evosynth_command(), "train", "--params", str(params_file), "--experiment", experiment,
               "--generation", "0", "--data", str(data), "--out-dir", str(work / "out")]
        print("peak_rss: running", " ".join(cmd), flush=True)
        started = time.monotonic()
        # the step in its own process (not a fork of the warm server), so its memory is this process's
        proc = subprocess.Popen(cmd, cwd=work, env=os.environ | {"EVOSYNTH_WARM": "0"})
        poller = Poller(proc.pid)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        poller.done.set()
        poller.join()
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            sys.exit(f"peak_rss: the step failed ({proc.returncode})")
        import json

        provenance = json.loads((work / "out" / "stress_train.provenance.json").read_text())
        return {
            "experiment": experiment,
            "epochs": spec["train"]["ancestor_epochs"],
            "configured_epochs": yaml.safe_load((ROOT / "params.yaml").read_text())["experiments"][experiment][
                "train"]["ancestor_epochs"],
            "dataset": spec["dataset"],
            "train_size": spec["data"]["train_size"],
            "ru_maxrss": usage.ru_maxrss * 1024,  # KiB on Linux
            "vmhwm": poller.hwm,
            "vmrss": poller.rss,
            "seconds": seconds,
            "threads": provenance.get("cpu_threads"),
        }
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        return out
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def section(result: dict) -> str:
    import torch

    peak = max(result["ru_maxrss"], result["vmhwm"])
    verdict = "within" if peak <= TARGET_BYTES else "OVER"
    shortened = result["epochs"] != result["configured_epochs"]
    epochs = f"{result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}"
    if shortened:
        epochs += f" (shortened with --epochs; params.yaml says {result['configured_epochs']})"
    memory = total_memory()
    lines = [
        SECTION,
        "",
        f"The heaviest step of the default run: `stress_train` of `{result['experiment']}` (generation 0, "
        f"LeNet5-Caffe on {'the full ' if result['train_size'] is None else ''}{result['dataset']}, {epochs}), "
        "run by `benchmarks/peak_rss.py` as a subprocess.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| peak RSS (`wait4` ru_maxrss) | {result['ru_maxrss'] / MiB:,.0f} MiB ({result['ru_maxrss'] / GiB:.2f} GiB) |",
        f"| peak RSS (`/proc` VmHWM, polled) | {result['vmhwm'] / MiB:,.0f} MiB |",
        f"| target | ≤ 2 GiB: **{verdict}** ({peak / TARGET_BYTES:.0%} of it) |",
        f"| wall time of the step | {result['seconds']:.0f} s |",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu_model()}, "
        f"{os.cpu_count()} cores"
        + (f", {memory / GiB:.0f} GiB RAM" if memory else "")
        + f"; torch {torch.__version__}, {result['threads']} torch thread(s); commit {git_commit()}. "
        "Other jobs were sharing the machine, which changes the wall time, not the peak memory.",
        "",
    ]
    return "\n".join(lines)


def update_report(text: str) -> None:
    """Replace (or append) this script's section; leave every other section untouched."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    old = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: text + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    new = new.rstrip("\n") + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{REPORT.name}.", suffix=".tmp", dir=REPORT.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(new)
    os.chmod(tmp, 0o644)
    os.replace(tmp, REPORT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="fmnist_evonet")
    parser.add_argument("--epochs", type=int, help="ancestor epochs (default: as in params.yaml)")
    parser.add_argument("--no-report", action="store_true", help=f"do not update {REPORT.relative_to(ROOT)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    result = measure(args.experiment, args.epochs, args.keep)
    peak = max(result["ru_maxrss"], result["vmhwm"])
    print(f"peak RSS: {result['ru_maxrss'] / MiB:,.0f} MiB (ru_maxrss), {result['vmhwm'] / MiB:,.0f} MiB (VmHWM);"
          f" target <= 2048 MiB: {'OK' if peak <= TARGET_BYTES else 'OVER'};"
          f" {result['epochs']} epoch(s) in {result['seconds']:.0f} s")
    if not args.no_report:
        update_report(section(result))
        print(f"peak_rss: wrote the '{SECTION}' section of {REPORT.relative_to(ROOT)}")
    return 0 if peak <= TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
