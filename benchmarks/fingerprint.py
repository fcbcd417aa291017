"""This machine's numerical fingerprint: one sha256 per output file of a fixed small chain, and the CPU model.

Runs the steps of a small fixed experiment (LeNet5 on scikit-learn's digits:
prepare, the ancestor, two generations of EvoNet synthesis, their evaluation
and report) in a temporary folder, with the very commands DVC and Snakemake
run (:func:`evosynth.pipeline.plan.build_plan`), and prints the sha256 of every
file they write beside the CPU model, the numerics mode and the versions the
bytes depend on. Two machines printing the same lines wrote the same bytes;
docs/numerics.md says which lines must agree.

    python benchmarks/fingerprint.py                  # portable numerics (params.yaml's default)
    python benchmarks/fingerprint.py --numerics native
    python benchmarks/fingerprint.py --save           # also into reports/fingerprint/<cpu-model>.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from evosynth.artifacts import sha256
from evosynth.pipeline.checkout import sources
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: The fixed chain: LeNet5 on digits, small subsets, two generations.
PARAMS = {
    "datasets": {"digits": {"source": "digits", "image_size": 28}},
    "experiments": {
        "fingerprint": {
            "dataset": "digits", "architecture": "lenet5", "method": "evonet", "generations": 2, "seed": 0,
            "init": "inherit", "environment": {"factor": 0.5, "mode": "budget"},
            "train": {"ancestor_epochs": 2, "epochs": 1, "batch_size": 32, "lr": 0.01, "momentum": 0.9,
                      "weight_decay": 0.0005},
            "data": {"train_size": 600, "test_size": 300},
        }
    },
}


def code_digest() -> str:
    """One sha256 over the package's sources (path and bytes of every file a checkout is compared by)."""
    import hashlib

    digest = hashlib.sha256()
    for name, path in sorted(sources(ROOT / "src" / "evosynth").items()):
        digest.update(f"src/evosynth/{name}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; else what the platform says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown-cpu"


def run_chain(folder: Path, numerics: str) -> list[Path]:
    """Write the params, run every step of the chain in ``folder``; the files written (run records aside)."""
    params = {**PARAMS, "numerics": numerics}
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "EVOSYNTH_WARM": "0"}
    for step in (s for s in build_plan(validate_params(params)) if s.step != "code"):  # code records: of sources
        done = subprocess.run(shlex.split(step.cmd), cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"fingerprint: {step.name} failed:\n{done.stderr}")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.name != "params.yaml" and not p.name.endswith(".run.json"))


def fingerprint(numerics: str) -> str:
    import numpy
    import torch

    with tempfile.TemporaryDirectory(prefix="evosynth-fingerprint-") as tmp:
        folder = Path(tmp)
        files = run_chain(folder, numerics)
        lines = [
            f"# cpu: {cpu_model()}",
            f"# numerics: {numerics}",
            f"# python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}",
            f"# code: {code_digest()} (sha256 over src/evosynth; the provenance records hash the code, so compare"
            " fingerprints of the same code)",
            "# sha256 of each file the chain writes (benchmarks/fingerprint.py; docs/numerics.md)",
            *(f"{sha256(p)}  {p.relative_to(folder)}" for p in files),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numerics", choices=("portable", "native"), default="portable")
    parser.add_argument("--save", action="store_true",
                        help="also write reports/fingerprint/<cpu-model>.txt (portable numerics only)")
    args = parser.parse_args()
    text = fingerprint(args.numerics)
    print(text, end="")
    if args.save:
        if args.numerics != "portable":
            sys.exit("fingerprint: --save records portable numerics only (native bytes are this CPU's alone)")
        out = ROOT / "reports" / "fingerprint" / f"{slug(cpu_model())}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"written to {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
