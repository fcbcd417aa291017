"""The trade-off curves' report: reports/curves/curves.{md,csv}, curves_synapses.png, curves_macs.png."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from evosynth.artifacts import write_text
from evosynth.figures import pyplot, readable_log, save_figure
from evosynth.reporting.curves import AXES, band, operating_points, scratch_rows

#: What the curves do not show yet (docs/method.md §10.6 says the same).
NOT_DRAWN = ("Not drawn here: accuracy against measured batch-1 latency (ONNX Runtime, 1 thread, the interleaved"
             " harness with its same-architecture control); the curves above are on counted synapses and MACs.")


def _cell(interval: dict[str, Any], reached: str = "") -> str:
    if not interval["n"]:
        return "–" + reached
    if math.isnan(interval["low"]):
        return f"{interval['mean']:.2f}{reached}"
    return f"{interval['mean']:.2f} [{interval['low']:.2f}, {interval['high']:.2f}]{reached}"


def _signed(interval: dict[str, Any]) -> str:
    if not interval["n"]:
        return "–"
    if math.isnan(interval["low"]):
        return f"{interval['mean']:+.2f} (n={interval['n']})"
    return f"{interval['mean']:+.2f} [{interval['low']:+.2f}, {interval['high']:+.2f}] (n={interval['n']})"


def markdown(rows: list[dict[str, Any]], controls: list[dict[str, Any]], info: dict[str, Any]) -> str:
    methods = list(info["methods"])
    lines = ["# Trade-off curves", "",
             f"{info['evolved']} against {', '.join(m for m in methods if m != info['evolved'])}; test accuracy (%)"
             f" as mean [{info['confidence']:.0%} t interval] over the seeds whose trajectory reaches the point"
             " (reached/seeds in parentheses). Best other: the baseline of highest mean"
             f" {'validation' if info['decide_on'] == 'val_accuracy' else 'test (curves.decide_on)'} accuracy at the"
             " point; the difference is paired by seed over the seeds where both reach it.", ""]
    for axis in AXES:
        mine = [r for r in rows if r["axis"] == axis]
        if not mine:
            continue
        lines += [f"## At fixed {axis.replace('_', ' ')}", "",
                  "| × | " + " | ".join(methods) + " | best other | evolved − best other (pp) |",
                  "|---:|" + "---:|" * len(methods) + "---|---:|"]
        for r in mine:
            cells = [_cell(r["methods"][m], f" ({r['methods'][m]['reached']}/{r['methods'][m]['seeds']})")
                     for m in methods]
            lines.append(f"| {r['point']:g} | " + " | ".join(cells) + f" | {r['best_other'] or '–'} |"
                         f" {_signed(r['difference'])} |")
        lines.append("")
    if controls:
        lines += ["## Against the architecture trained from scratch", "",
                  "Each network's architecture (compacted widths and mask) trained from a fresh initialisation for"
                  " the total epochs it received; network − scratch paired by seed.", "",
                  "| run | generation | synaptic eff. | MAC reduction | network (%) | from scratch (%) |"
                  " network − scratch (pp) |", "|---|---:|---:|---:|---:|---:|---:|"]
        for c in controls:
            lines.append(f"| {c['method']} | {c['generation']} | {c['synaptic_efficiency']:.1f}× |"
                         f" {c['mac_reduction']:.1f}× | {_cell(c['network'])} | {_cell(c['scratch'])} |"
                         f" {_signed(c['difference'])} |")
        lines.append("")
    return "\n".join([*lines, NOT_DRAWN, ""])


def table(rows: list[dict[str, Any]], controls: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "axis", "point", "method", "generation", "n", "seeds", "mean", "low", "high"])
    for r in rows:
        for m, cell in r["methods"].items():
            writer.writerow(["accuracy", r["axis"], r["point"], m, "", cell["reached"], cell["seeds"],
                             *(f"{cell[k]:.4f}" for k in ("mean", "low", "high"))])
        d = r["difference"]
        writer.writerow(["evolved_minus_best_other", r["axis"], r["point"], r["best_other"] or "", "", d["n"], "",
                         *(f"{d[k]:.4f}" for k in ("mean", "low", "high"))])
    for c in controls:
        d = c["difference"]
        writer.writerow(["network_minus_scratch", "", "", c["method"], c["generation"], d["n"], "",
                         *(f"{d[k]:.4f}" for k in ("mean", "low", "high"))])
    return out.getvalue()


def figure(methods: dict[str, Any], controls: list[dict[str, Any]], axis: str, confidence: float, path: Path,
           quote: str = "accuracy") -> None:
    """Every method's mean and band on one panel over ``axis`` (log x); each control a point with its interval."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs: list[float] = []
    for index, (name, seeds) in enumerate(methods.items()):
        colour = f"C{index}"
        b = band(seeds, quote, axis, confidence)
        ax.plot(b["x"], b["mean"], color=colour, label=f"{name} ({len(seeds)} seeds)")
        ax.fill_between(b["x"], b["low"], b["high"], color=colour, alpha=0.2, where=b["n"] >= 2)
        xs += list(b["x"])
        mine = [c for c in controls if c["method"] == name]
        if mine:
            means = [c["scratch"]["mean"] for c in mine]
            errors = [[m - c["scratch"]["low"] for m, c in zip(means, mine, strict=True)],
                      [c["scratch"]["high"] - m for m, c in zip(means, mine, strict=True)]]
            errors = [[0.0 if math.isnan(e) else e for e in side] for side in errors]
            ax.errorbar([c[axis] for c in mine], means, yerr=errors, fmt="D", color=colour, mfc="white",
                        capsize=3, label=f"{name}: its networks from scratch")
    if not readable_log(ax, "x", xs):
        ax.set_xscale("log")
    ax.set_xlabel(AXES[axis])
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"mean and {confidence:.0%} band over seeds")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")  # beside the panel, off the data
    save_figure(fig, path)


def curves_report(methods: dict[str, dict[int, Any]], scratch: dict[str, Any], info: dict[str, Any],
                  paths: list[Path]) -> list[dict[str, Any]]:
    """Write curves.md, curves.csv and one figure per axis; the operating-point rows."""
    rows = operating_points(methods, info["evolved"], info["operating_points"], info["confidence"],
                            decide=info["decide_on"])
    controls = scratch_rows(methods, scratch, info["confidence"])
    write_text(paths[0], markdown(rows, controls, {**info, "methods": list(methods)}))
    write_text(paths[1], table(rows, controls))
    for axis, path in zip(AXES, paths[2:4], strict=True):
        figure(methods, controls, axis, info["confidence"], path)
    return rows
