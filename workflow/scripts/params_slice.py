"""Write the slice of params.yaml one pipelines/<name>/dvc.yaml tracks: DVC's view of the params, made small.

    python workflow/scripts/params_slice.py --params params.yaml --out pipelines/fmnist_evonet/params.json \\
        experiments.fmnist_evonet.train experiments.fmnist_evonet.environment ...

DVC parses a stage's params file and walks it once per stage, whenever it
checks that stage: with every stage on params.yaml (30 kB of YAML), 75 % of a
no-op ``dvc status`` of the default target's 422 stages went there (11 of
15 s, profiled). So each file under pipelines/ gets one stage that copies the
keys its stages track, as written, into ``params.json`` beside it, and those
stages track their keys in that copy. It depends on params.yaml as a whole
file: after any edit every slice is rewritten (cheaply) and a stage reruns
exactly when one of its own keys changed value, as before. Keys absent from
the file are left out (render_dvc.py lists only keys the file contains).

A file that does not validate stops the stage with the one-line error the
steps give, before anything is written: the slice is a persistent output
(DVC does not delete it before the stage runs), so a bad edit leaves it as it was.

This is DVC's only: Snakemake reads params.yaml itself and needs no copy.
The commands of the stages still read params.yaml; the slice is what DVC compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evosynth.artifacts import write_json
from evosynth.errors import ParamsError
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.paramsfile import read_params_file
from evosynth.pipeline.stage import param_values


def sliced(raw: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The nested subset of ``raw`` holding each dotted key of ``keys`` (a key absent from ``raw`` is skipped)."""
    out: dict[str, Any] = {}
    for key, value in param_values(raw, tuple(keys)).items():
        *parents, last = key.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="the slice to write (JSON)")
    parser.add_argument("keys", nargs="+", metavar="KEY", help="dotted params keys, as the stages list them")
    args = parser.parse_args(argv)
    try:
        raw = read_params_file(args.params)
        validate_params(raw, source=str(args.params))
    except ParamsError as exc:
        print(f"params_slice: error: {exc}", file=sys.stderr)
        return 2
    write_json(args.out, sliced(raw if isinstance(raw, dict) else {}, args.keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
