"""The papers' tables and figures from every run's metrics (docs/method.md §11.2).

Pure builders: each takes per-generation metric rows (as written by the
evaluate step) and writes Markdown, CSV and PNG through :mod:`evosynth.reporting.table`
and matplotlib. Literature rows are quoted (``table.QuotedRow``), our rows
measured (``table.MeasuredRow``); the two cannot be confused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from evosynth import figures
from evosynth.artifacts import write_text
from evosynth.reporting import cluster, selection, stressednets
from evosynth.reporting.comparisons import per_generation
from evosynth.reporting.table import MeasuredRow, Table
from evosynth.scores import DECISION

Rows = Sequence[Mapping[str, Any]]


#: Marker and line style per run (a run's front stays visible where it meets another's).
STYLES = (("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", (0, (5, 1, 1, 1))), ("P", (0, (1, 1))))


def _save(fig, path: Path) -> None:
    for ax in fig.get_axes():
        figures.tidy(ax, generations=ax.get_xlabel() == "generation")
    figures.save_figure(fig, path, dpi=90)


def table1(runs: Mapping[str, Rows], tolerance: float, out: Path, sources: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """StressedNets Table 1: quoted literature rows and each run's synthesized network, measured.

    ``sources`` names each run's metrics files, one per row (generation 0 may be another run's).
    """
    measured, picks = [], {}
    for name, rows in runs.items():
        pick = selection.synthesized_generation(rows, tolerance, DECISION)
        picks[name] = pick["generation"]
        measured.append(MeasuredRow.from_metrics(
            f"{name} (generation {pick['generation']})", pick, sources[name][list(rows).index(pick)]
        ))
    table = stressednets.stressednets_table1(measured)
    table.write(out / "stressednets_table1.md", out / "stressednets_table1.csv")
    return picks


def table2(out: Path) -> None:
    """StressedNets Table 2 layout: AlexNet/CIFAR-10 is not run here (no CIFAR-10, no GPU)."""
    stressednets.stressednets_table2([]).write(out / "stressednets_table2.md", out / "stressednets_table2.csv")


def table3(runtime: Mapping[str, Any], rows: Rows, tolerance: float, out: Path) -> None:
    """StressedNets Table 3 from the runtime stage: ancestor vs the synthesized network, measured here."""
    pick = selection.synthesized_generation(rows, tolerance, DECISION)["generation"]
    machine = runtime["host"]
    device = f"{machine['cpu']} ({machine['cores']} cores), ONNX Runtime, 1 thread"

    def row(gen: Mapping[str, Any], label: str) -> MeasuredRow:
        values = {
            "model_size_mb": gen["size_mb"],
            "fps": gen["onnxruntime_1thread"]["fps"],
            "accuracy": gen["accuracy"],
            "host": device,
        }
        return MeasuredRow.from_metrics(label, values, "runtime.json")

    by_gen = {g["generation"]: g for g in runtime["generations"]}
    table = stressednets.stressednets_table3(row(by_gen[0], "ancestor (generation 0)"),
                                       [row(by_gen[pick], f"synthesized (generation {pick})")])
    table.write(out / "stressednets_table3.md", out / "stressednets_table3.csv")


def cluster_tables(runs: Mapping[str, Rows], out: Path) -> None:
    """Cluster paper Tables 1–6 layout (generation, A-E, C-E, accuracy), one per run, in one file."""
    markdown, csv = [], []
    for name, rows in runs.items():
        table = cluster.cluster_table(name, _single(rows), f"results/{name}")
        markdown.append(table.markdown())
        csv.append(table.csv())
    write_text(out / "cluster_tables.md", "\n".join(markdown))
    write_text(out / "cluster_tables.csv", "\n".join(csv))


def _single(rows: Rows) -> list[dict[str, Any]]:
    """One row per generation: a population's mean member (counts rounded)."""
    means = per_generation(list(rows))
    counts = {}
    for row in rows:
        counts.setdefault(row["generation"], []).append(row)
    return [
        {**means[g], "generation": g,
         **{k: round(sum(r[k] for r in members) / len(members)) for k in ("synapses", "kernels", "filters")}}
        for g, members in sorted(counts.items())
    ]


def sexual_figure(asexual: Rows, sexual: Rows, names: tuple[str, str], out: Path) -> None:
    """Sexual paper Figures 4–5: accuracy, synaptic and cluster efficiency (log) vs generation, the mean member
    of each run and the range of its members as a band."""
    fig, axes = figures.grid(3)
    for rows, name, style in ((asexual, names[0], "o-"), (sexual, names[1], "s--")):
        series = per_generation(list(rows))
        gens = sorted(series)
        members = {g: [r for r in rows if r["generation"] == g] for g in gens}
        for ax, key in zip(axes, ("accuracy", "synaptic_efficiency", "cluster_efficiency")):
            scale = 100 if key == "accuracy" else 1
            line, = ax.plot(gens, [scale * series[g][key] for g in gens], style, label=f"{name}: mean of members")
            if any(len(m) > 1 for m in members.values()):
                ax.fill_between(gens, [scale * min(r[key] for r in members[g]) for g in gens],
                                [scale * max(r[key] for r in members[g]) for g in gens], color=line.get_color(),
                                alpha=0.2, label=f"{name}: range of members")
    axes[0].set(ylabel="test accuracy (%)", title="accuracy")
    for ax, key in zip(axes[1:], ("synaptic_efficiency", "cluster_efficiency")):
        figures.ratio_axis(ax, "y", [v for line in ax.lines for v in line.get_ydata()], key.replace("_", " "))
        ax.set_title(key.replace("_", " "))
    for ax in axes:
        ax.set_xlabel("generation")
    figures.figure_legend(fig, columns=2)
    fig.suptitle("Asexual vs sexual evolutionary synthesis (sexual paper Figures 4-5 layout)")
    _save(fig, out / "sexual_vs_asexual.png")


def factor_sweep(runs: Mapping[str, Rows], out: Path) -> None:
    """StressedNets Figure 6: accuracy and living synapses (log) vs generation, one panel per environmental
    factor, in a grid."""
    from matplotlib.lines import Line2D

    fig, axes = figures.grid(len(runs))
    for ax, (name, rows) in zip(axes, runs.items()):
        rows = sorted(rows, key=lambda r: r["generation"])
        gens = [r["generation"] for r in rows]
        ax.plot(gens, [100 * r["accuracy"] for r in rows], "o-", color="tab:blue")
        ax.axhline(100 * rows[0]["accuracy"], color="tab:blue", ls=":", lw=1)
        ax.set(title=f"{name}", xlabel="generation", ylabel="test accuracy (%)")
        twin = ax.twinx()
        twin.plot(gens, [r["synapses"] for r in rows], "s--", color="tab:red")
        figures.log_axis(twin, "y", [r["synapses"] for r in rows])
        twin.set_ylabel("living synapses (log scale)", color="tab:red")
    handles = [Line2D([], [], color="tab:blue", marker="o"), Line2D([], [], color="tab:blue", ls=":"),
               Line2D([], [], color="tab:red", marker="s", ls="--")]
    figures.figure_legend(fig, handles, ["test accuracy (left axis)", "generation 0's accuracy",
                                         "living synapses (right axis, log scale)"])
    fig.suptitle("Environmental-factor sweep, stressed (StressedNets Figure 6 layout)")
    _save(fig, out / "factor_sweep.png")
    lines = ["| run | generation | accuracy % | synapses |", "|:---|---:|---:|---:|"]
    lines += [f"| {name} | {r['generation']} | {100 * r['accuracy']:.2f} | {r['synapses']:,} |"
              for name, rows in runs.items() for r in sorted(rows, key=lambda r: r["generation"])]
    write_text(out / "factor_sweep.md", "# Environmental-factor sweep\n\n" + "\n".join(lines) + "\n")


def baselines(runs: Mapping[str, Rows], evolved: str, tolerance: float, out: Path) -> Table:
    """Evolution against plain pruning: the comparison table and Pareto plots (synapses, filters).

    Each run its own colour, marker and line style: its Pareto front filled and joined (a one-point front
    is a marker), its other generations hollow; the key under the figure says which is which.
    """
    from matplotlib.lines import Line2D

    table = selection.compare_to_baselines(runs, evolved, {n: f"results/{n}" for n in runs}, tolerance,
                                         DECISION)
    table.write(out / "baselines.md", out / "baselines.csv")
    fig, axes = figures.grid(2, panel=(5.0, 3.6))
    handles = []
    for k, (name, rows) in enumerate(runs.items()):
        marker, dash = STYLES[k % len(STYLES)]
        color = f"C{k}"
        for ax, axis in zip(axes, ("synapses", "filters")):
            front = selection.pareto_front(list(rows), axis)
            rest = [r for r in rows if r not in front]
            ax.plot([r[axis] for r in rest], [100 * r["accuracy"] for r in rest], marker, ls="none", mfc="none",
                    color=color, alpha=0.7, ms=6)
            ax.plot([r[axis] for r in front], [100 * r["accuracy"] for r in front], marker, ls=dash, color=color,
                    lw=1.8, ms=7, mec="k", mew=0.6, zorder=3 + k)
        handles.append(Line2D([], [], color=color, marker=marker, ls=dash, mec="k", mew=0.6, label=name))
    handles += [Line2D([], [], color="0.4", marker="o", ls="-", mec="k", mew=0.6, label="filled, joined: the Pareto front"),
                Line2D([], [], color="0.4", marker="o", ls="none", mfc="none", label="hollow: other generations")]
    for ax, axis in zip(axes, ("synapses", "filters")):
        log = figures.readable_log(ax, "x", [r[axis] for rows in runs.values() for r in rows])
        ax.set(xlabel=f"living {axis}" + (" (log scale)" if log else ""), ylabel="test accuracy (%)",
               title=f"accuracy vs living {axis}")
    figures.figure_legend(fig, handles, [h.get_label() for h in handles], columns=4)
    _save(fig, out / "pareto.png")
    return table


def index(entries: Sequence[tuple[str, str]], provenance: Mapping[str, Any], path: Path) -> None:
    """reports/index.md: every table and figure with a line on what it shows, and where it came from."""
    lines = [
        "# evosynth reports",
        "",
        f"Built by evosynth {provenance['evosynth_version']} from params hash `{provenance['params_hash']}`"
        f" (kernels: {provenance['cpu']['aten_cpu_capability']}). The commit, host and time of the build are in"
        " `papers/papers.run.json` beside the provenance (not hashed, so a rebuild changes no byte here).",
        "Rows marked *quoted* are copied from the papers; rows marked *measured* were measured by this pipeline.",
        "",
    ]
    for target, description in entries:
        link = f"![{target}]({target})" if target.endswith(".png") else f"[{target}]({target})"
        lines += [f"- {description}", f"  {link}", ""]
    write_text(path, "\n".join(lines))
