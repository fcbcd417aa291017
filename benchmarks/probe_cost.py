"""The capacity probe's cost: how long `dvc repro pipelines/probe/dvc.yaml` takes, estimated from params.yaml.

A probe network's epoch is modelled as a fixed per-epoch cost plus a term in
its MACs, fitted (least squares) to the median epoch of the probe's own dense
networks as they ran: ``MEASURED``, the run records of seed 0
(``results/probe/*_s0/probe_train.run.json``, 2026-12-07, AMD EPYC, 2 cores,
the probe alone, portable numerics, the teacher's outputs computed once per
training). A kernel-sparse network (``probe.kernel_sparse``) trains at its
dense widths' MACs times ``SPARSE_FACTOR``, the measured ratio of its epochs
to the line's (masked training computes every convolution densely, then
zeroes the dead kernels after each step). Every network adds ``NETWORK_S``,
the median measured wall time outside its epochs (loading the data and the
teacher, the teacher's outputs, the evaluation, the record), and each stage
about 1 s of DVC's own; the reference's ancestor is added when it is not
trained yet, at ``ANCESTOR_EPOCH_S`` an epoch.

    python benchmarks/probe_cost.py                 # the estimate from params.yaml and the committed figures
    python benchmarks/probe_cost.py --from-runs     # refit from the run records under results/probe/ here
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from sections import update_section

from evosynth.analysis.metrics import dense_macs
from evosynth.nets.architectures import build_model
from evosynth.pipeline.params import load_params
from evosynth.pipeline.probe import PROBE_RESULTS, probe_runs, recipe_train
from evosynth.pipeline.probe_steps import reference_ancestor

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (1, 28, 28)
#: (conv1, conv2, fc1 widths, median seconds of one epoch) of the dense networks of seed 0, ``--from-runs``.
MEASURED = (((3, 10, 32), 9.43), ((3, 11, 18), 8.75), ((4, 8, 16), 10.22), ((4, 8, 24), 10.43), ((4, 8, 32), 9.2),
            ((5, 6, 32), 10.61), ((5, 10, 64), 11.26), ((6, 5, 37), 11.55), ((6, 18, 172), 15.15), ((20, 50, 500), 42.66))
#: A kernel-sparse network's median epoch over the line's at its dense widths' MACs (seed 0, ``--from-runs``).
SPARSE_FACTOR = 1.03
#: Median wall seconds of a network outside its epochs (seed 0, ``--from-runs``).
NETWORK_S = 12.0
#: One epoch of the reference's ancestor (20-50-500) under portable numerics (seed 0's probe network and the
#: reference's own ancestor, 2026-12-07, ``--from-runs``).
ANCESTOR_EPOCH_S = 45.8
#: One stage's own overhead in `dvc repro` and the report's stage.
STAGE_S, REPORT_S = 1.0, 10.0


def macs(widths: tuple[int, ...]) -> int:
    return dense_macs(build_model("lenet5", SHAPE, 10, widths=tuple(widths)), SHAPE)


def epoch_model(measured=MEASURED) -> tuple[float, float]:
    """(seconds per epoch at zero MACs, seconds per MAC): the least-squares line through ``measured``."""
    x = np.array([macs(w) for w, _ in measured], dtype=float)
    y = np.array([s for _, s in measured], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def plan_cost(params: dict, fixed_s: float, per_mac_s: float, sparse_factor: float = SPARSE_FACTOR,
              network_s: float = NETWORK_S, ancestor_epoch_s: float = ANCESTOR_EPOCH_S,
              ancestor_done: bool = False) -> dict[str, float]:
    """Wall seconds of the probe run by `dvc repro` (one stage at a time) at the fitted epoch."""
    probe = params["probe"]
    reference = params["experiments"][probe["reference"]]
    total, epochs, sparse, sparse_networks = 0.0, 0, 0.0, 0
    for widths, recipe, _, _, kernels in probe_runs(probe):
        each = recipe_train(probe, recipe)["epochs"]
        epochs += each
        epoch = (fixed_s + per_mac_s * macs(widths)) * (sparse_factor if kernels else 1.0)
        seconds = each * epoch + network_s + STAGE_S
        total += seconds
        if kernels:
            sparse, sparse_networks = sparse + seconds, sparse_networks + 1
    ancestor = 0.0 if ancestor_done else (reference["train"]["ancestor_epochs"] * ancestor_epoch_s + network_s
                                          + 2 * STAGE_S)
    return {"probe_s": total + REPORT_S, "ancestor_s": ancestor, "networks": len(probe_runs(probe)),
            "epochs": epochs, "sparse_s": sparse, "sparse_networks": sparse_networks}


def estimate_line(params: dict, label: str, fixed_s: float, per_mac_s: float, sparse_factor: float,
                  network_s: float, ancestor_epoch_s: float = ANCESTOR_EPOCH_S) -> str:
    cost = plan_cost(params, fixed_s, per_mac_s, sparse_factor, network_s, ancestor_epoch_s)
    minutes, seeds = cost["probe_s"] / 60, len(params["probe"]["seeds"])
    return (f"- {label}: {cost['networks']} networks ({cost['epochs']} epochs in all); epoch = {fixed_s:.2f} s +"
            f" {per_mac_s * 1e6:.2f} s per million MACs, kernel-sparse ×{sparse_factor:.2f}, {network_s:.0f} s a"
            f" network besides: **{minutes:.0f} min** ({minutes / seeds:.0f} min a seed), plus"
            f" {cost['ancestor_s'] / 60:.0f} min for the reference's ancestor if it is not trained yet (`dvc repro`,"
            " one stage at a time; a diverging network is costed as trained); of these,"
            f" {cost['sparse_networks']} kernel-sparse networks take {cost['sparse_s'] / 60:.0f} min.")


def read_runs(root: Path) -> list[dict]:
    """Every probe network with a run record under ``root``/results/probe: its widths, variant, MACs, epoch times
    and wall time (a diverged network has no epochs)."""
    out = []
    for folder in sorted((root / PROBE_RESULTS).iterdir() if (root / PROBE_RESULTS).is_dir() else []):
        run, metrics = folder / "probe_train.run.json", folder / "metrics.json"
        if not (run.is_file() and metrics.is_file()):
            continue
        r, m = json.loads(run.read_text()), json.loads(metrics.read_text())
        out.append({"unit": folder.name, "widths": tuple(m["widths"]), "variant": m["variant"],
                    "macs": macs(tuple(m["widths"])), "epoch_s": r["epoch_seconds"], "wall_s": r["wall_seconds"]})
    return out


def fit_runs(runs: list[dict], ancestor_epochs: list[float] = ()) -> dict:
    """The line through the dense networks' median epochs (recipe epochs count alike), the kernel-sparse factor, the
    median wall time outside the epochs, and the median epoch of the ancestor's widths (with ``ancestor_epochs``,
    the reference's own)."""
    trained = [r for r in runs if r["epoch_s"]]
    by_width: dict[tuple, list[float]] = {}
    for r in trained:
        if r["variant"] == "dense":
            by_width.setdefault(r["widths"], []).extend(r["epoch_s"])
    measured = tuple((w, round(statistics.median(s), 2)) for w, s in sorted(by_width.items()))
    fixed, per_mac = epoch_model(measured)
    sparse = [statistics.median(r["epoch_s"]) / (fixed + per_mac * r["macs"]) for r in trained
              if r["variant"] != "dense"]
    outside = [r["wall_s"] - sum(r["epoch_s"]) for r in trained]
    wide = [s for r in trained if r["widths"] == (20, 50, 500) for s in r["epoch_s"]] + list(ancestor_epochs)
    return {"measured": measured, "fixed_s": fixed, "per_mac_s": per_mac,
            "sparse_factor": round(statistics.median(sparse), 2) if sparse else 1.0,
            "network_s": round(statistics.median(outside), 1), "ancestor_epoch_s": round(statistics.median(wide), 1)
            if wide else None}


def runs_report(runs: list[dict], fit: dict, params: dict) -> str:
    lines = ["The probe's own run records (`results/probe/*/probe_train.run.json`): per network its median epoch"
             " and wall time.", "", "| network | MACs | epochs | median epoch | wall |", "|:---|---:|---:|---:|---:|"]
    lines += [f"| {r['unit']} | {r['macs']:,} | {len(r['epoch_s']) or 'diverged'} |"
              f" {statistics.median(r['epoch_s']) if r['epoch_s'] else float('nan'):.2f} s | {r['wall_s']:.0f} s |"
              for r in runs]
    lines += ["", f"Measured wall time of these {len(runs)} networks: {sum(r['wall_s'] for r in runs) / 60:.1f} min.",
              "", estimate_line(params, "fitted to these runs", fit["fixed_s"], fit["per_mac_s"], fit["sparse_factor"],
                                fit["network_s"], fit["ancestor_epoch_s"] or ANCESTOR_EPOCH_S),
              "", f"Constants: MEASURED = {fit['measured']}; SPARSE_FACTOR = {fit['sparse_factor']};"
              f" NETWORK_S = {fit['network_s']}; ANCESTOR_EPOCH_S = {fit['ancestor_epoch_s']}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-runs", action="store_true", help="refit from the run records under results/probe/")
    parser.add_argument("--no-section", action="store_true", help="print only; leave reports/benchmarks.md alone")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    if not args.from_runs:
        print(estimate_line(params, "from the committed figures", *epoch_model(), SPARSE_FACTOR, NETWORK_S))
        return
    runs = read_runs(ROOT)
    if len({r["widths"] for r in runs if r["variant"] == "dense" and r["epoch_s"]}) < 2:
        raise SystemExit(f"{ROOT / PROBE_RESULTS}: run records of at least two dense widths needed to fit a line;"
                         " run some of the probe first (docs/pickset.md)")
    record = ROOT / reference_ancestor(params) / "stress_train.run.json"
    ancestor = json.loads(record.read_text())["epoch_seconds"] if record.is_file() else []
    body = runs_report(runs, fit_runs(runs, ancestor), params)
    print(body)
    if not args.no_section:
        update_section("Probe cost", body)


if __name__ == "__main__":
    main()
