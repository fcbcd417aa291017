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


def _figure(rows: int, cols: int, width: float = 4.2, height: float = 3.4):
    plt = figures.pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return plt, fig, axes


def _save(plt, fig, path: Path) -> None:
    for ax in fig.get_axes():
        if ax.get_xlabel() == "generation":
            figures.integer_ticks(ax)
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
    """Sexual paper Figures 4–5: accuracy, synaptic and cluster efficiency vs generation."""
    plt, fig, axes = _figure(1, 3)
    for rows, name, style in ((asexual, names[0], "o-"), (sexual, names[1], "s-")):
        series = per_generation(list(rows))
        gens = sorted(series)
        for ax, key, label in zip(axes[0], ("accuracy", "synaptic_efficiency", "cluster_efficiency"),
                                  ("test accuracy (%)", "synaptic efficiency (× generation 0)", "cluster efficiency (× generation 0)")):
            scale = 100 if key == "accuracy" else 1
            ax.plot(gens, [scale * series[g][key] for g in gens], style, label=f"{name} (mean of members)")
            ax.set(xlabel="generation", ylabel=label)
            ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.suptitle("Asexual vs sexual evolutionary synthesis (sexual paper Figures 4-5 layout)")
    _save(plt, fig, out / "sexual_vs_asexual.png")


def factor_sweep(runs: Mapping[str, Rows], out: Path) -> None:
    """StressedNets Figure 6: accuracy and synapses vs generation, one panel per environmental factor."""
    plt, fig, axes = _figure(1, len(runs), width=3.4)
    for ax, (name, rows) in zip(axes[0], runs.items()):
        rows = sorted(rows, key=lambda r: r["generation"])
        gens = [r["generation"] for r in rows]
        ax.plot(gens, [100 * r["accuracy"] for r in rows], "o-", color="tab:blue")
        ax.axhline(100 * rows[0]["accuracy"], color="tab:blue", ls=":", lw=1)
        ax.set(title=f"{name}", xlabel="generation", ylabel="test accuracy (%)")
        twin = ax.twinx()
        twin.plot(gens, [r["synapses"] for r in rows], "s--", color="tab:red")
        log = figures.readable_log(twin, "y", [r["synapses"] for r in rows])
        twin.set_ylabel("living synapses" + (", log scale" if log else ""), color="tab:red")
    fig.suptitle("Environmental-factor sweep, stressed (StressedNets Figure 6 layout)")
    _save(plt, fig, out / "factor_sweep.png")
    lines = ["| run | generation | accuracy % | synapses |", "|:---|---:|---:|---:|"]
    lines += [f"| {name} | {r['generation']} | {100 * r['accuracy']:.2f} | {r['synapses']:,} |"
              for name, rows in runs.items() for r in sorted(rows, key=lambda r: r["generation"])]
    write_text(out / "factor_sweep.md", "# Environmental-factor sweep\n\n" + "\n".join(lines) + "\n")


def baselines(runs: Mapping[str, Rows], evolved: str, tolerance: float, out: Path) -> Table:
    """Evolution against plain pruning: the comparison table and Pareto plots (synapses, filters)."""
    table = selection.compare_to_baselines(runs, evolved, {n: f"results/{n}" for n in runs}, tolerance,
                                         DECISION)
    table.write(out / "baselines.md", out / "baselines.csv")
    plt, fig, axes = _figure(1, 2, width=5.0)
    for ax, axis in zip(axes[0], ("synapses", "filters")):
        for name, rows in runs.items():
            points = sorted(rows, key=lambda r: r[axis])
            front = selection.pareto_front(list(rows), axis)
            ax.plot([r[axis] for r in points], [100 * r["accuracy"] for r in points], "o", alpha=0.4)
            ax.plot([r[axis] for r in front], [100 * r["accuracy"] for r in front], "-",
                    color=ax.lines[-1].get_color(), label=name)
        log = figures.readable_log(ax, "x", [r[axis] for rows in runs.values() for r in rows])
        ax.set(xlabel=f"living {axis}" + (", log scale" if log else ""), ylabel="test accuracy (%)",
               title=f"accuracy vs living {axis}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    _save(plt, fig, out / "pareto.png")
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
