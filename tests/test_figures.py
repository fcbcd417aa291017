"""Every report figure is readable by a paper's reader: asserted on the matplotlib objects, not on pixels.

Efficiencies, reductions and speed-ups on log axes; legends present and off every panel's data area; no strip
of panels; spread drawn where there are seeds or members; runtime ratios as points with intervals around a
line at 1.0×; architectures of one size each on their own row; and :func:`evosynth.figures.save_figure`
refusing a figure that breaks those rules.
"""

from __future__ import annotations

import math

import pytest

from evosynth import figures
from evosynth.errors import ArtifactError

RATIOS = ("efficiency", "reduction", "speed-up")


@pytest.fixture
def drawn(monkeypatch):
    """The figures a report function drew (kept open: the test inspects them after they were written)."""
    plt = figures.pyplot()
    close = plt.close
    close("all")
    monkeypatch.setattr(plt, "close", lambda *_: None)
    yield lambda: [plt.figure(n) for n in plt.get_fignums()]
    close("all")


def _shown(fig):
    return [ax for ax in fig.get_axes() if ax.lines or ax.collections or ax.patches]


def _legends(fig):
    return [ax.get_legend() for ax in fig.get_axes() if ax.get_legend()] + list(fig.legends)


def _assert_readable(fig, legend=True):
    """Ratio axes logarithmic, a legend (when asked) off every panel's data, no strip."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.get_axes():
        for axis in ("x", "y"):
            label = getattr(ax, f"get_{axis}label")()
            if any(word in label for word in RATIOS):
                assert getattr(ax, f"get_{axis}scale")() == "log", label
    legends = _legends(fig)
    if legend:
        assert legends, "no legend"
    for box in (lg.get_window_extent(renderer) for lg in legends):
        assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in _shown(fig)), "legend over the data"
    width, height = fig.get_tightbbox(renderer).size
    assert 0.35 <= width / height <= 3.6, (width, height)


def _rows(accuracies, efficiency=2.0, member=None, clusters=1.3):
    return [{"generation": g, "accuracy": a, "val_accuracy": a, "synaptic_efficiency": efficiency ** g, "cluster_efficiency": clusters ** g,
             "mac_reduction": 1.1 ** g, "synapses": round(430_500 / efficiency ** g), "filters": 70 - 3 * g,
             "kernels": round(1020 / clusters ** g), **({"member": member} if member is not None else {})}
            for g, a in enumerate(accuracies)]


def test_save_figure_refuses_what_a_reader_cannot_read(tmp_path):
    plt = figures.pyplot()
    cases = {}
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 20, 400])
    ax.set(xlabel="generation", ylabel="synaptic efficiency (×)")
    cases["linear ratio"] = (fig, "on a linear axis")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1.0, 2.0, 3.0], label="a")
    ax.set(xlabel="generation", ylabel="accuracy (%)")
    ax.legend(loc="center")
    cases["legend inside"] = (fig, "a legend over a panel's data area")
    fig, axes = plt.subplots(1, 6, figsize=(18, 3))
    for a in axes:
        a.plot([0, 1], [0, 1])
        a.set(xlabel="generation", ylabel="accuracy (%)")
    cases["strip"] = (fig, "the figure is a strip")
    fig, ax = plt.subplots()
    ax.plot(range(30), range(30))
    ax.set(xlabel="generation", ylabel="accuracy (%)", xticks=range(30))
    cases["crowded ticks"] = (fig, "30 ticks on one axis")
    for name, (fig, problem) in cases.items():
        with pytest.raises(ArtifactError, match=problem):
            figures.save_figure(fig, tmp_path / f"{name}.png")
        assert not (tmp_path / f"{name}.png").exists(), name
    fig, (ax,) = figures.grid(1)
    ax.plot([0, 1, 2], [1, 20, 400], label="run")
    figures.ratio_axis(ax, "y", [1, 20, 400], "synaptic efficiency")
    ax.set_xlabel("generation")
    figures.legend_beside(ax)
    figures.save_figure(fig, tmp_path / "good.png")
    assert figures.read_axes(tmp_path / "good.png") == [
        {"title": "", "xlabel": "generation", "ylabel": "synaptic efficiency (× generation 0, log scale)",
         "xscale": "linear", "yscale": "log"}]


def test_named_ticks_are_as_many_as_the_rows_they_name(tmp_path):
    """One row per architecture: 26 names on one axis are 26 rows, not a crowded number axis (the capacity
    probe's figure); 26 numbers on the other axis of the same figure are still refused."""
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(5, 9))
    ax.plot(range(26), range(26), "o")
    ax.set(xlabel="accuracy (%)", ylabel="architecture (widths)")
    ax.set_yticks(range(26), [f"4-8-{k}" for k in range(26)])
    assert figures.named_ticks(ax.yaxis) and not figures.named_ticks(ax.xaxis)
    assert figures.problems(fig) == []
    ax.set_xticks(range(26))
    with pytest.raises(ArtifactError, match="26 ticks on one axis"):
        figures.save_figure(fig, tmp_path / "numbers.png")
    plt.close("all")


@pytest.mark.parametrize("low, high, most", [(1.0, 1.04, 6), (1.0, 9.0, 5), (1.0, 20.0, 8), (1.0, 430.0, 8), (1.0, 1e5, 7)])
def test_log_axes_carry_a_readable_number_of_plain_ticks(low, high, most):
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [low, high])
    figures.log_axis(ax, "y", [low, high])
    fig.canvas.draw()
    ticks = [t for t in ax.yaxis.get_major_ticks() if t.label1.get_visible() and t.label1.get_text()]
    bottom, top = ax.get_ylim()
    inside = [t for t in ticks if bottom <= t.get_loc() <= top]
    assert 3 <= len(inside) <= most, [t.label1.get_text() for t in inside]
    assert not any("10^" in t.label1.get_text() or "e+" in t.label1.get_text() for t in inside)
    plt.close(fig)


def test_generations_put_each_ratio_in_its_own_log_panel_and_key_the_members(drawn, tmp_path):
    from evosynth.reporting.generations import _plot, table_rows

    rows = table_rows(_rows([0.9, 0.85, 0.8], member=0) + _rows([0.9, 0.84, 0.82], efficiency=2.5, member=1))
    _plot("pop", rows, tmp_path / "g.png")
    (fig,) = drawn()
    _assert_readable(fig)
    ratios = [ax for ax in fig.get_axes() if any(w in ax.get_ylabel() for w in RATIOS)]
    assert len(ratios) == 3 and all(len(ax.lines) == 2 for ax in ratios)  # one quantity per panel: none hidden


def test_comparisons_draw_the_metric_on_a_log_axis_with_the_legend_beside(drawn, tmp_path):
    from evosynth.reporting.comparisons import comparison_report

    spec = {"metric": "synaptic_efficiency", "tolerance": 0.01, "claim": "x", "treatment": "t", "control": "c"}
    comparison_report({"a": spec, "b": {**spec, "metric": "cluster_efficiency"}},
                      {"t": _rows([0.9, 0.88, 0.87], efficiency=30.0), "c": _rows([0.9, 0.89, 0.85])},
                      tmp_path / "c.md", tmp_path / "c.csv", tmp_path / "c.png", "title")
    (fig,) = drawn()
    _assert_readable(fig)
    assert sum(ax.get_yscale() == "log" for ax in fig.get_axes()) == 2


def test_sexual_figure_shows_efficiencies_on_log_axes_and_the_members_range(drawn, tmp_path):
    from evosynth.reporting.papers import sexual_figure

    sexual = _rows([0.9, 0.8, 0.7], member=0) + _rows([0.9, 0.75, 0.72], efficiency=3.0, member=1)
    sexual_figure(_rows([0.9, 0.8, 0.6], efficiency=40.0), sexual, ("asexual", "sexual"), tmp_path)
    (fig,) = drawn()
    _assert_readable(fig)
    assert [ax.get_yscale() for ax in fig.get_axes()] == ["linear", "log", "log"]
    assert all(ax.collections for ax in fig.get_axes())  # the population's members as a band


def test_factor_sweep_is_a_grid_with_a_key(drawn, tmp_path):
    from evosynth.reporting.papers import factor_sweep

    runs = {f"stressed_f{f:03d}": _rows([0.81, 0.83, 0.8 - f / 1000], efficiency=1 + f / 50) for f in (95, 90, 80, 60, 40, 20)}
    factor_sweep(runs, tmp_path)
    (fig,) = drawn()
    _assert_readable(fig)
    hosts = [ax for ax in fig.get_axes() if ax.get_ylabel() == "test accuracy (%)"]
    assert len({round(ax.get_position().y0, 3) for ax in hosts}) >= 2  # at least two rows of panels
    assert {ax.get_yscale() for ax in fig.get_axes() if "synapses" in ax.get_ylabel()} == {"log"}


def test_pareto_draws_every_runs_front_visibly_and_keys_the_hollow_points(drawn, tmp_path):
    from evosynth.reporting.papers import baselines

    runs = {"evonet": _rows([0.81, 0.83, 0.86]), "magnitude": _rows([0.81, 0.84, 0.87]),
            "l1_filter": _rows([0.81, 0.85, 0.84], efficiency=1.8)}
    for rows in runs.values():
        for r in rows:
            r["filters"] = 70  # evonet's filters never change: a one-point front, drawn as a marker
    baselines(runs, "evonet", 0.01, tmp_path)
    (fig,) = drawn()
    _assert_readable(fig)
    for ax in fig.get_axes():
        fronts = [line for line in ax.lines if line.get_linestyle() != "None"]
        assert len(fronts) == len(runs) and all(line.get_marker() not in ("", "None", None) for line in fronts)
    labels = [t.get_text() for lg in _legends(fig) for t in lg.get_texts()]
    assert set(runs) <= set(labels) and any("hollow" in t for t in labels)


def test_runtime_draws_ratios_as_points_with_intervals_around_one(drawn, tmp_path):
    from evosynth.analysis.runtime import CONFIGS, config_key, plot_speedup

    rows = []
    for g, (speed, reduction) in enumerate([(1.0, 1.0), (1.01, 1.004), (0.98, 1.02), (1.03, 1.036)]):
        row = {"generation": g, "mac_reduction": reduction}
        for k, (engine, threads) in enumerate(CONFIGS):
            key = config_key(engine, threads)
            row |= {f"{key}_speedup": speed + 0.01 * k, f"{key}_speedup_p10": speed - 0.02, f"{key}_speedup_p90": speed + 0.05}
        rows.append(row)
    plot_speedup(rows, tmp_path / "r.png")
    (fig,) = drawn()
    _assert_readable(fig)
    (ax,) = fig.get_axes()
    low, high = ax.get_ylim()
    assert low <= 1 / 1.1 and high >= 1.1 and high < 2  # 1.0 inside with room, not a 3 % window
    assert ax.get_yscale() == "log"
    trends = [line for line in ax.lines if line.get_linestyle() not in ("None", "none", "")
              and len(set(line.get_ydata())) > 1]
    assert not trends  # no noise joined into a line
    assert any(set(line.get_ydata()) == {1.0} and line.get_linestyle() != "None" for line in ax.lines)  # the 1.0 line
    assert len(ax.collections) >= len(CONFIGS)  # an interval per configuration


def test_evidence_draws_claims_on_log_ratio_axes_with_legends_beside(drawn, tmp_path):
    from evosynth.reporting.evidence import _plot_claims, _plot_sweep

    runs = {name: {seed: _rows([0.9, 0.88 - 0.01 * seed, 0.86], efficiency=base + seed) for seed in range(3)}
            for name, base in (("t", 20.0), ("c", 10.0))}
    claims = {"claim": {"treatment": "t", "control": "c", "metric": "cluster_efficiency", "at": "synaptic_efficiency"},
              "on_generation": {"treatment": "t", "control": "c", "metric": "synaptic_efficiency", "at": "generation"}}
    _plot_claims(claims, runs, tmp_path / "e.png")
    _plot_sweep(["t", "c"], runs, {"t": 0.8, "c": 0.4}, tmp_path / "s.png")
    claims_fig, sweep_fig = drawn()
    _assert_readable(claims_fig)
    _assert_readable(sweep_fig)
    scales = [(ax.get_xscale(), ax.get_yscale()) for ax in claims_fig.get_axes()]
    assert scales == [("log", "linear"), ("log", "log"), ("linear", "linear"), ("linear", "log")]
    assert all(ax.collections for ax in claims_fig.get_axes())  # the seeds' band


def test_pick_set_pareto_figures_key_their_runs_off_the_data(drawn, tmp_path):
    from evosynth.reporting.picks import B1, B256
    from evosynth.reporting.picks_figures import FIGURES, pareto_figures

    def chain(base, seed):
        rows = _rows([0.92, 0.915 - 0.001 * seed, 0.9], efficiency=base)
        for r in rows:
            r |= {"filter_reduction": 1.2 ** r["generation"], B1: 1.5 ** r["generation"], B256: 1.8 ** r["generation"]}
        return rows

    runs = {"pick": {s: chain(3.0, s) for s in range(2)}, "l1": {s: chain(2.0, s) for s in range(2)}}
    chosen = {run: {s: rows[1] for s, rows in chains.items()} for run, chains in runs.items()}
    pareto_figures(runs, chosen, "pick", 0.01, {name: tmp_path / f"{name}.png" for name, _ in FIGURES})
    shown = drawn()
    assert len(shown) == len(FIGURES)
    for fig in shown:
        _assert_readable(fig)
        assert {ax.get_xscale() for ax in fig.get_axes()} == {"log"}


def test_the_probe_gives_each_architecture_its_own_row(drawn, tmp_path):
    from evosynth.reporting.probe import _plot

    def row(arch, synapses, kernels, mean, meets):
        return {"architecture": arch, "synapses": synapses, "kernels": kernels, "accuracy_mean": mean,
                "accuracy_low": mean - 0.4, "accuracy_high": mean + 0.4, "per_seed": f"{mean - 0.2} {mean + 0.2}",
                "meets_targets": meets}

    crowd = [row(f"4-8-128-{w}", 4_200 + k, 36, 88.0 + 0.1 * k, True) for k, w in enumerate((16, 24, 32))]
    rows = [row("20-50-800-500", 430_500, 1020, 91.7, False), *crowd, row("bad", 4_000, 36, math.nan, False)]
    info = {"targets": {"synaptic_efficiency": 100, "cluster_efficiency": 27}, "tolerance": 0.01,
            "confidence": 0.95, "reference": "ref"}
    _plot(rows, 91.9, 90.9, {"synapses": 4_305, "kernels": 37}, info, tmp_path / "p.png")
    (fig,) = drawn()
    _assert_readable(fig)
    first = fig.get_axes()[0]
    names = [t.get_text() for t in first.get_yticklabels()]
    assert sorted(names) == sorted(r["architecture"] for r in rows[:-1])  # one row each, the diverged one left out
    assert len(set(first.get_yticks())) == len(names)
    assert [ax.get_xscale() for ax in fig.get_axes()] == ["linear", "log", "log"]


def test_a_pick_set_panel_without_its_quantity_says_so_on_a_log_axis(tmp_path):
    from evosynth.reporting.picks import B256
    from evosynth.reporting.picks_figures import FIGURES, pareto_figures

    rows = [{**r, "filter_reduction": 1.0, "onnxruntime_1thread_speedup": 1.2 ** r["generation"]}
            for r in _rows([0.92, 0.91, 0.9])]  # batch-256 throughput never timed
    pareto_figures({"pick": {0: rows}}, {"pick": {0: rows[1]}}, "pick", 0.01,
                   {name: tmp_path / f"{name}.png" for name, _ in FIGURES})
    panels = figures.read_axes(tmp_path / "pareto_latency.png")
    assert [p["xscale"] for p in panels] == ["log", "log"] and "throughput" in panels[1]["xlabel"]
    assert B256 not in rows[0]
