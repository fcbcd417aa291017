"""The capacity probe's report: per architecture, accuracy over seeds against the ancestor's line (docs/method.md §13.7).

Issue 16 asks for one synthesized LeNet5-Caffe within 1 pp of its ancestor
with ≥ 100× synaptic efficiency (synapses of the ancestor / synapses, EvoNet
Table 1) and ≥ 27× cluster efficiency (kernels of the ancestor / kernels,
the cluster paper's C-E). A network that keeps the topology and meets both
has at most ancestor/27 conv kernels, i.e. a few filters per conv layer. The
probe trains such networks densely from scratch and asks: does any of them
reach the line ``ancestor accuracy − tolerance``?

**Per architecture.** Over its n seeds that trained (a seed whose loss
diverged is listed apart and has no accuracy), the mean accuracy with a two-sided t
interval (:func:`evosynth.reporting.trajectories.t_interval`, n − 1 degrees of
freedom). The architecture is *above* the line when the whole interval lies
above it, *below* when the whole interval lies below it, *inconclusive*
otherwise (or with one seed: no interval); *diverged* when every seed's loss
diverged (the recipe trained no network: it reached nothing, so it counts as
not reaching the line). Accuracies are in percent; the gap to the ancestor in
percentage points.

**Per recipe.** A width may be trained with several recipes (``probe.train``
and ``probe.recipes``: more epochs, another learning rate); each (width,
recipe) is its own row. A recipe's accuracy is a lower bound on what the width
can reach: a better recipe may exist.

**Kernel-sparse rows.** A network of the metrics' ``variant``
``kernel-sparse`` has dense widths and a fixed random mask on whole conv2
kernels (``probe.kernel_sparse``): the target's kernel count at wider conv
widths. Its row is its own (widths, recipe, variant), marked in the table and
drawn with its own marker; its kernel density is its conv kernels over the
dense network's of the same widths.

**The answer.** Among the rows that meet both targets, one is *chosen* on
validation accuracy alone (the highest mean over seeds; the test set only
reports, docs/method.md §9): *reached by these recipes* when the chosen row is
above the line on test; *not reached by these recipes* when every one is below
it or diverged (no network of that topology and those widths, dense or kernel-sparse,
trained with any of the recipes tried, came within the tolerance; a statement
over all rows, so nothing is chosen); *inconclusive* otherwise, also when
another row is above on test (picking it would let the test set choose); and
*no architecture meets the targets* when the list holds none. Both are
statements about the recipes tried: every accuracy here is a lower bound on
what its architecture can reach.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evosynth import figures
from evosynth.artifacts import write_csv, write_text
from evosynth.reporting.trajectories import t_interval

VERDICTS = ("above", "below", "inconclusive", "diverged")
#: Verdicts of a row that did not reach the line: below it, or every seed diverged (no network trained).
NOT_REACHED = ("below", "diverged")


def line_verdict(interval: dict[str, float], line: float) -> str:
    """above (interval lies above ``line``), below (lies below it), inconclusive (contains it, or no interval),
    diverged (no seed trained: ``n`` = 0)."""
    if interval["n"] == 0:
        return "diverged"
    if interval["n"] < 2 or math.isnan(interval["low"]):
        return "inconclusive"
    if interval["low"] > line:
        return "above"
    if interval["high"] < line:
        return "below"
    return "inconclusive"


def meets_targets(row: dict[str, Any], targets: dict[str, float]) -> bool:
    """Both efficiencies at or above the issue's targets (100× synapses, 27× kernels by default)."""
    return (row["synaptic_efficiency"] >= targets["synaptic_efficiency"]
            and row["cluster_efficiency"] >= targets["cluster_efficiency"])


def summarise(runs: list[dict[str, Any]], reference: dict[str, Any], tolerance: float, targets: dict[str, float],
              confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per architecture (in the order first seen) from the probe networks' metrics and the reference's.

    ``runs``: each network's metrics.json (``widths``, ``seed``, ``accuracy`` as a fraction, ``synapses``,
    ``kernels``, ``macs``, ``architecture``); ``reference``: the reference ancestor's metrics.json.
    """
    groups: dict[tuple[tuple[int, ...], str | None, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((tuple(run["widths"]), run.get("recipe"), run.get("variant", "dense")), []).append(run)
    ancestor = 100.0 * reference["accuracy"]
    line = ancestor - 100.0 * tolerance
    rows = []
    for (widths, recipe, variant), members in groups.items():
        members = sorted(members, key=lambda r: r["seed"])
        first = members[0]
        trained = [r for r in members if not r.get("diverged")]
        accuracies = [100.0 * r["accuracy"] for r in trained]
        validation = [100.0 * r["val_accuracy"] for r in trained if r.get("val_accuracy") is not None]
        interval = (t_interval(accuracies, confidence) if accuracies else
                    {"n": 0, **dict.fromkeys(("mean", "sd", "low", "high"), math.nan)})
        row = {
            "widths": "-".join(map(str, widths)), "recipe": recipe or "train", "variant": variant,
            "architecture": first["architecture"] + (f" {variant}" if variant != "dense" else "")
                            + (f" ({recipe})" if recipe else ""),
            "kernel_density": first["kernels"] / first.get("dense_kernels", first["kernels"]),
            "epochs": first.get("epochs"), "lr": first.get("lr"),
            "kernels": first["kernels"], "synapses": first["synapses"], "macs": first["macs"],
            "synaptic_efficiency": reference["synapses"] / first["synapses"],
            "cluster_efficiency": reference["kernels"] / first["kernels"],
            "mac_reduction": reference["macs"] / first["macs"],
            "seeds": interval["n"], "accuracy_mean": interval["mean"], "accuracy_sd": interval["sd"],
            "accuracy_low": interval["low"], "accuracy_high": interval["high"],
            "gap_pp": interval["mean"] - ancestor, "line": line,
            # the choice's score: every trained seed's validation accuracy, or none (nan)
            "val_mean": (sum(validation) / len(validation) if validation and len(validation) == len(trained)
                         else math.nan),
            "per_seed": " ".join(f"{a:.2f}" for a in accuracies),
            "diverged_seeds": " ".join(str(r["seed"]) for r in members if r.get("diverged")),
        }
        row["meets_targets"] = meets_targets(row, targets)
        row["verdict"] = line_verdict(interval, line)
        rows.append(row)
    return rows


def chosen_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row meeting both targets with the highest mean validation accuracy (None if none has one)."""
    scored = [r for r in rows if r["meets_targets"] and not math.isnan(r["val_mean"])]
    return max(scored, key=lambda r: r["val_mean"], default=None)


def answer(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The probe's answer and the architectures it rests on: among those meeting both targets,
    ``reached by these recipes`` (the row chosen on validation accuracy is above the line),
    ``not reached by these recipes`` (all below or diverged), ``inconclusive``, or ``no architecture meets the
    targets``."""
    eligible = [r for r in rows if r["meets_targets"]]
    if not eligible:
        return "no architecture meets the targets", []
    if all(r["verdict"] in NOT_REACHED for r in eligible):
        return "not reached by these recipes", [r["architecture"] for r in eligible]
    chosen = chosen_row(eligible)
    if chosen is not None and chosen["verdict"] == "above":
        return "reached by these recipes", [chosen["architecture"]]
    return "inconclusive", [r["architecture"] for r in eligible if r["verdict"] not in NOT_REACHED]


def _statement(outcome: str, names: list[str], rows: list[dict[str, Any]], confidence: float) -> str:
    chosen = chosen_row(rows)
    chosen_text = (f" The one chosen on validation accuracy ({chosen['val_mean']:.2f} %), {chosen['architecture']}"
                   f" ({chosen['kernels']} kernels, {chosen['synapses']:,} synapses), reaches"
                   f" {chosen['accuracy_mean']:.2f} % on test (interval [{chosen['accuracy_low']:.2f},"
                   f" {chosen['accuracy_high']:.2f}]), {chosen['gap_pp']:+.2f} pp from the ancestor.") if chosen else ""
    if outcome == "reached by these recipes":
        return (f"**Reached by these recipes**: {', '.join(names)}, chosen among the rows meeting both targets on"
                f" validation accuracy alone, lies above the line on test ({confidence:.0%} interval over seeds),"
                f" trained from scratch with the recipe named in brackets (none: `probe.train`).{chosen_text}")
    if outcome == "not reached by these recipes":
        diverged = [r["architecture"] for r in rows if r["meets_targets"] and r["verdict"] == "diverged"]
        below = [n for n in names if n not in diverged]
        apart = (f"; {', '.join(diverged)} diverged on every seed and trained no network" if diverged else "")
        return (f"**Not reached by these recipes**: every probed architecture and recipe that meets both targets"
                f" and trained ({', '.join(below)}) lies below the line ({confidence:.0%} interval over"
                f" seeds){apart}. No network of this topology at these widths, dense or kernel-sparse, trained from"
                " scratch with any recipe tried here, came within the tolerance of the ancestor. This is what these"
                " recipes reached, a lower bound on what the architectures can reach, not an upper one: another"
                " recipe, or a method that trains these widths better than from scratch, may still reach the"
                f" line.{chosen_text}")
    if outcome == "inconclusive":
        return (f"**Inconclusive**: the row chosen on validation accuracy is not above the line on test, and"
                f" {', '.join(names)} {'is' if len(names) == 1 else 'are'} not below it (a row above it on test that"
                f" validation did not choose is not counted: the test set would have chosen it); more seeds or"
                f" recipes would decide.{chosen_text}")
    return "**No probed architecture meets both targets**: add widths with fewer kernels and synapses."


def probe_report(rows: list[dict[str, Any]], reference: dict[str, Any], info: dict[str, Any],
                 paths: list[Path]) -> tuple[str, list[str]]:
    """Write probe.md, probe.csv and probe.png; return the answer and the architectures it rests on.

    ``info``: ``reference`` (the experiment's name), ``tolerance``, ``targets``, ``confidence``, ``settings``
    (the training, in words) and ``test_images``.
    """
    md, csv, png = paths
    targets, confidence = info["targets"], info["confidence"]
    ancestor, line = 100.0 * reference["accuracy"], 100.0 * (reference["accuracy"] - info["tolerance"])
    outcome, names = answer(rows)
    # the most a network may have and meet a target (whole synapses and kernels)
    limits = {"synapses": math.floor(reference["synapses"] / targets["synaptic_efficiency"] + 1e-9),
              "kernels": math.floor(reference["kernels"] / targets["cluster_efficiency"] + 1e-9)}
    lines = [
        (f"# Capacity probe: the reference's topology ({reference['architecture']}) at each width, trained from"
         " scratch"), "",
        (f"Reference: experiment `{info['reference']}`'s ancestor, {reference['architecture']},"
        f" {reference['synapses']:,} synapses, {reference['kernels']:,} kernels, {reference['macs']:,} MACs,"
        f" accuracy **{ancestor:.2f} %** on {info['test_images']:,} test images. The line: ancestor −"
        f" {100 * info['tolerance']:g} pp = **{line:.2f} %**. Targets: ≥ {targets['synaptic_efficiency']:g}× synaptic"
        f" efficiency (≤ {limits['synapses']:,} synapses) and ≥ {targets['cluster_efficiency']:g}× cluster efficiency"
        f" (≤ {limits['kernels']:,} kernels)."), "",
        (f"Every network: {settings_sentence(info)}. Per architecture: mean and {confidence:.0%} t interval"
        f" over seeds (module `evosynth.reporting.probe`).{recipes_sentence(info)}{sparse_sentence(info)}"
        " Every accuracy is what its recipe reached: a lower bound on what the architecture can reach."), "",
        ("| architecture | variant | kernels | synapses | MACs | synaptic eff. | cluster eff. | both targets | seeds"
        f" | validation % (mean) | accuracy % (mean) | {confidence:.0%} interval | gap to ancestor | per seed"
        " | diverged seeds | vs the line |"),
        "|:---|:---|---:|---:|---:|---:|---:|:---|---:|---:|---:|:---|---:|:---|:---|:---|",
    ]
    for r in rows:
        interval = "–" if math.isnan(r["accuracy_low"]) else f"[{r['accuracy_low']:.2f}, {r['accuracy_high']:.2f}]"
        lines.append(
            f"| {r['architecture']} | {_variant(r)} | {r['kernels']:,} | {r['synapses']:,} | {r['macs']:,} |"
            f" {r['synaptic_efficiency']:.1f}× | {r['cluster_efficiency']:.1f}× | {'yes' if r['meets_targets'] else 'no'} |"
            f" {r['seeds']} | {_number(r['val_mean'], '.2f')} |"
            f" {_number(r['accuracy_mean'], '.2f')} | {interval} | {_number(r['gap_pp'], '+.2f', ' pp')} |"
            f" {r['per_seed'] or '–'} |"
            f" {r['diverged_seeds'] or '–'} | **{r['verdict']}** |")
    lines += ["", "## Answer", "", _statement(outcome, names, rows, confidence), ""]
    write_text(md, "\n".join(lines))
    write_csv(csv, rows)
    _plot(rows, ancestor, line, limits, info, png)
    return outcome, names


def _number(value: float, spec: str, unit: str = "") -> str:
    """A table cell: the number in ``spec`` with its unit, or – when there is none (every seed diverged)."""
    return "–" if math.isnan(value) else format(value, spec) + unit


def _variant(row: dict[str, Any]) -> str:
    """The table's variant cell: dense, or kernel-sparse with its kernel density."""
    if row["variant"] == "dense":
        return "dense"
    return f"{row['variant']}, {100 * row['kernel_density']:.1f} % of its kernels"


def sparse_sentence(info: dict[str, Any]) -> str:
    """The kernel-sparse networks in words ('' without them)."""
    sparse = info.get("kernel_sparse")
    if not sparse:
        return ""
    widths = ", ".join("-".join(map(str, w)) for w in sparse["widths"])
    return (f" Kernel-sparse rows (widths {widths}): the same topology at those widths with a fixed random mask on"
            f" whole conv2 kernels, so that the network has {sparse['kernels']} conv kernels in all (conv1 dense;"
            " every filter keeps a kernel and every channel feeds one; one mask per seed, kept through training),"
            " trained from scratch with `probe.train` and every recipe: the target's kernel count spread over wider"
            " conv layers than the dense network with that count.")


def recipes_sentence(info: dict[str, Any]) -> str:
    """The recipes beside ``probe.train`` and the widths they train, in words ('' without recipes)."""
    recipes = info.get("recipes") or {}
    if not recipes:
        return ""
    each = "; ".join(f"`{name}`: " + ", ".join(f"{k} {v}" for k, v in keys.items()) for name, keys in recipes.items())
    widths = ", ".join("-".join(map(str, w)) for w in info.get("recipe_widths", []))
    return (f" The widths {widths} are also trained with other recipes (the row's name in brackets; every other"
            f" setting as above): {each}. Each recipe's accuracy is a lower bound on what the width can reach.")


def settings_sentence(info: dict[str, Any]) -> str:
    """The training every probe network had, in words (from ``probe.train`` and the seeds)."""
    train = info["train"]
    distill = train["distill"]
    taught = (f", learning the reference's ancestor's outputs (distillation α = {distill['alpha']:g},"
              f" T = {distill['temperature']:g})" if distill["alpha"] > 0 else ", no distillation")
    epochs = f"{train['epochs']} epoch{'s' if train['epochs'] != 1 else ''}"
    return (f"trained from scratch for {epochs}: {train['schedule']} learning rate from {train['lr']:g},"
            f" batch {train['batch_size']}{taught}; seeds {', '.join(map(str, info['seeds']))}")


#: Each variant's series in the figure: colour, marker, legend name.
SERIES = {"dense": ("tab:blue", "o", "dense"),
          "kernel-sparse": ("tab:orange", "D", "kernel-sparse (fixed kernel mask)")}


def _plot(rows: list[dict[str, Any]], ancestor: float, line: float, limits: dict[str, int], info: dict[str, Any],
          path: Path) -> None:
    """One row per architecture (largest first), three panels sharing it: accuracy (mean, interval over seeds,
    each seed a grey dot; the ancestor and the line), synapses and conv kernels (log; the target limits).
    Filled markers meet both targets; each variant (dense, kernel-sparse) is its own series, colour and marker.
    Architectures of one size no longer pile up: each has its own row."""
    from matplotlib.lines import Line2D

    drawn = sorted((r for r in rows if not math.isnan(r["accuracy_mean"])),  # every seed diverged: nothing to plot
                   key=lambda r: (r["synapses"], r["kernels"]))
    lost, rows = len(rows) - len(drawn), drawn
    targets = info["targets"]
    fig, axes = figures.grid(3, panel=(figures.PANEL[0], max(0.42 * len(rows) + 1.6, figures.PANEL[1])), sharey=True)
    ys = list(range(len(rows)))
    for y, r in zip(ys, rows):
        colour, marker, _ = SERIES[r.get("variant", "dense")]
        face = colour if r["meets_targets"] else "white"
        err = None if math.isnan(r["accuracy_low"]) else [[r["accuracy_mean"] - r["accuracy_low"]],
                                                          [r["accuracy_high"] - r["accuracy_mean"]]]
        axes[0].errorbar([r["accuracy_mean"]], [y], xerr=err, fmt=marker, capsize=3, color=colour, mfc=face)
        seeds = [float(a) for a in r["per_seed"].split()]
        axes[0].plot(seeds, [y] * len(seeds), ".", color="tab:gray", alpha=0.7)
        for ax, key in zip(axes[1:], ("synapses", "kernels")):
            ax.plot([r[key]], [y], marker, color=colour, mfc=face)
    axes[0].axvline(ancestor, color="black", lw=1)
    axes[0].axvline(line, color="tab:red", ls="--", lw=1)
    axes[0].set(xlabel="test accuracy (%)", ylabel="architecture (widths)",
                title="accuracy over seeds\n(mean, interval, each seed)")
    axes[0].set_yticks(ys, [r["architecture"] for r in rows])
    for ax, key, title, target in ((axes[1], "synapses", "synapses", "synaptic_efficiency"),
                                   (axes[2], "kernels", "conv kernels", "cluster_efficiency")):
        ax.axvline(limits[key], color="tab:green", ls=":", lw=1.5)
        figures.log_axis(ax, "x", [r[key] for r in rows] + [limits[key]])
        ax.set(xlabel=f"{title} (log scale)", title=f"{title}\n(target: ≤ {limits[key]:,}, {targets[target]:g}×)")
    for ax in axes:
        figures.tidy(ax, generations=False)
    shown = [v for v in SERIES if any(r.get("variant", "dense") == v for r in rows)]
    keys = [*(Line2D([], [], color=SERIES[v][0], marker=SERIES[v][1], ls="none", label=f"{SERIES[v][2]}, meets both"
                     " targets") for v in shown),
            Line2D([], [], color="tab:gray", marker="o", mfc="white", ls="none", label="hollow: misses a target"),
            Line2D([], [], color="tab:blue", marker="|", ms=10, label=f"{info['confidence']:.0%} t interval over seeds"),
            Line2D([], [], color="tab:gray", marker=".", ls="none", label="one seed"),
            Line2D([], [], color="black", lw=1, label=f"ancestor ({ancestor:.2f} %)"),
            Line2D([], [], color="tab:red", ls="--", lw=1, label=f"ancestor − {100 * info['tolerance']:g} pp"),
            Line2D([], [], color="tab:green", ls=":", lw=1.5, label="target limit (synapses, kernels)")]
    figures.figure_legend(fig, keys, [k.get_label() for k in keys], columns=4)
    fig.suptitle(f"Capacity probe against {info['reference']}'s ancestor"
                 + (f" ({lost} rows not drawn: every seed diverged, see the table)" if lost else ""), fontsize="medium")
    figures.save_figure(fig, path, dpi=90)  # refuses an unreadable figure, records the panels in the PNG
