"""The trade-off curves' report: reports/curves/curves.{md,csv}, one figure per axis (curves_synapses.png,
curves_macs.png, curves_latency.png), and the search's log (search.csv, curves_search.png)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from evosynth.artifacts import write_text
from evosynth.figures import pyplot, readable_log, save_figure
from evosynth.reporting import curves_latency
from evosynth.reporting.curves import AXES, band, operating_points, scratch_rows
from evosynth.reporting.curves_search import search
from evosynth.scores import VALIDATION


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
    lines = ["# Trade-off curves", "", *search_lines(info["search"], info["scratch_chains"], info["seeds"])]
    if info["evolved"] not in methods:
        return "\n".join(lines)
    lines += [f"{info['evolved']} against {', '.join(m for m in methods if m != info['evolved'])}; test accuracy (%)"
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
    return "\n".join(lines)


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


def _seeds(seeds: list[int]) -> str:
    return ", ".join(str(s) for s in seeds)


def search_lines(found: dict[str, Any], scratch_chains: list[str], every: list[int]) -> list[str]:
    """The search's log in curves.md: every configuration's validation area, the one chosen, how many were tried;
    whether the chosen one runs ``every`` seed of the curves (compared) or not yet (not compared)."""
    chosen = found["chosen"]
    if found["tried"] == 1:
        return [f"One evolved configuration, {chosen}: no search (curves.search.candidates is empty).", ""]
    lines = [f"## The search: {found['tried']} configurations tried, chosen on validation", "",
             f"Each configuration's mean validation accuracy (%) over log10 of {found['axis'].replace('_', ' ')}"
             f" from {found['low']:g}× to {found['high']:g}× (0 where a seed's chain does not reach), mean"
             f" [95 % t interval] over seeds {_seeds(found['seeds'])}, the seeds every configuration runs; the"
             " largest is chosen. Test accuracy takes no part in the choice;"
             f" everything below compares {chosen} alone, once, on test, over seeds {_seeds(every)}.", "",
             "| configuration | validation area (%) | seeds reaching the range's end | chosen |",
             "|---|---:|---:|:---:|"]
    for r in found["rows"]:
        lines.append(f"| {r['configuration']} | {_cell(r)} | {r['reached']}/{r['seeds']} |"
                     f" {'**chosen**' if r['chosen'] else ''} |")
    lines.append("")
    if not found["compared"]:
        return [*lines, f"**Not compared yet.** {chosen} runs seeds {_seeds(found['runs'])} of the curves'"
                f" {_seeds(every)}: give experiments.{chosen} seeds {every}, add it to curves.scratch.chains and"
                " run the target again (the choice read no test accuracy and no seed outside the search's, so it"
                " stands). Until then no test accuracy of any configuration is reported; the figures below show"
                " the baselines alone.", ""]
    if chosen not in scratch_chains:
        lines += [f"{chosen} has no from-scratch controls: add it to curves.scratch.chains and run the target again"
                  " (only its controls and the report run; the choice reads validation only, so it stands).", ""]
    return lines


def search_table(found: dict[str, Any]) -> str:
    """search.csv: one row per configuration tried."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["configuration", "tried", "axis", "low", "high", "decided_on", "n", "seeds_reaching",
                     "val_area_mean", "val_area_low", "val_area_high", "chosen"])
    for r in found["rows"]:
        writer.writerow([r["configuration"], found["tried"], found["axis"], found["low"], found["high"], found["key"],
                         r["n"], r["reached"], *(f"{r[k]:.4f}" for k in ("mean", "low", "high")), int(r["chosen"])])
    return out.getvalue()


def figure(methods: dict[str, Any], controls: list[dict[str, Any]], axis: str, confidence: float, path: Path,
           quote: str = "accuracy", span: tuple[float, float] | None = None) -> None:
    """Every method's mean and band on one panel over ``axis`` (log x); each control a point with its interval;
    ``span``: the stretch of the axis a choice read, shaded."""
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
    if span is not None:
        ax.axvspan(*span, color="0.85", zorder=0, label="the range the choice reads")
    if not readable_log(ax, "x", xs):
        ax.set_xscale("log")
    ax.set_xlabel(AXES[axis])
    ax.set_ylabel("validation accuracy (%)" if quote == VALIDATION else "test accuracy (%)")
    ax.set_title(f"mean and {confidence:.0%} band over seeds")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")  # beside the panel, off the data
    save_figure(fig, path)


def curves_report(configurations: dict[str, dict[int, Any]], baselines: dict[str, dict[int, Any]],
                  scratch: dict[str, Any], timing_controls: dict[str, dict[str, Any]], info: dict[str, Any],
                  paths: list[Path]) -> dict[str, Any]:
    """Choose a configuration on validation, then write curves.md, curves.csv, one figure per axis, search.csv and
    curves_search.png; the operating-point rows and the search."""
    axis, confidence = info["search_axis"], info["confidence"]
    if len(configurations) > 1:
        found = search(configurations, axis, info["operating_points"][axis], confidence)
    else:
        first = next(iter(configurations))
        found = {"rows": [], "chosen": first, "tried": 1, "axis": axis, "key": VALIDATION,
                 "seeds": sorted(configurations[first])}
    chosen = found["chosen"]
    found["runs"] = sorted(configurations[chosen])
    found["compared"] = found["runs"] == info["seeds"]  # compared once, over every seed of the curves, or not at all
    methods = {chosen: configurations[chosen], **baselines} if found["compared"] else dict(baselines)
    rows = (operating_points(methods, chosen, info["operating_points"], confidence, decide=info["decide_on"])
            if found["compared"] else [])
    controls = scratch_rows({**configurations, **baselines}, scratch, confidence)
    text = markdown(rows, [c for c in controls if c["method"] in methods],
                    {**info, "evolved": chosen, "methods": list(methods), "search": found})
    timing = curves_latency.markdown(curves_latency.latency_rows(methods, confidence), timing_controls, list(methods))
    write_text(paths[0], "\n".join([text, *timing]))
    write_text(paths[1], table(rows, controls))
    for name, path in zip(AXES, paths[2:5], strict=True):
        figure(methods, controls, name, confidence, path)
    write_text(paths[5], search_table(found))
    span = (min(info["operating_points"][axis]), max(info["operating_points"][axis]))
    named = {f"{n} (chosen)" if n == chosen else n: {s: seeds[s] for s in found["seeds"]}  # the seeds it read
             for n, seeds in configurations.items()}
    figure(named, [], axis, confidence, paths[6], quote=VALIDATION, span=span)
    return {"rows": rows, "search": found}
