"""The capacity probe's kernel-sparse networks: the mask (exact kernel count, whole kernels, every unit alive,
fixed through training), the plan, the report's rows and series, and bad params in one line."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT, assert_params_refused
from test_additions_default import _run
from test_probe import REFERENCE, SHAPE, TARGETS, _probe_params, _runs, step_refusals

from evosynth.errors import ParamsError
from evosynth.nets.architectures import build_model
from evosynth.nets.kernel_masks import kernel_sparse_masks, random_kernel_mask
from evosynth.nets.masks import living_kernels
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.reporting.probe import answer, summarise


def _sparse_params(kernels: int = 36, widths: tuple = ([6, 12, 16], [10, 20, 10]), recipes: bool = True) -> dict:
    """The tiny probe with kernel-sparse widths (and, by default, one recipe beside probe.train)."""
    params = _probe_params()
    params["probe"]["kernel_sparse"] = {"kernels": kernels, "widths": [list(w) for w in widths]}
    if recipes:
        params["probe"].update(recipes={"e2": {"epochs": 2}}, recipe_widths=[[4, 8, 16]])
    return params


# --- the mask ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("out", "inp", "kept"), [(12, 6, 30), (20, 10, 26), (20, 10, 20), (7, 11, 11), (3, 5, 15),
                                                 (8, 8, 63)])
def test_a_kernel_mask_keeps_exactly_the_kernels_asked_with_every_filter_and_channel_alive(out, inp, kept):
    mask = random_kernel_mask(out, inp, kept, torch.Generator().manual_seed(5))
    assert mask.shape == (out, inp) and mask.dtype == torch.bool
    assert int(mask.sum()) == kept  # exactly: not a Bernoulli draw around a density
    assert bool(mask.any(dim=1).all()) and bool(mask.any(dim=0).all())  # no dead filter, no unread channel


def test_the_mask_is_the_seeds_and_is_random_beyond_its_cover():
    draws = [random_kernel_mask(20, 10, 60, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    # over many seeds every kernel is kept sometimes, none always, and no part of the layer is favoured: each half
    # of the filters holds half of the kept kernels (30 of 60 per draw; 6,000 of 12,000 over 200 draws)
    seen = sum(random_kernel_mask(20, 10, 60, torch.Generator().manual_seed(s)).int() for s in range(200))
    assert bool((seen > 0).all()) and int(seen.max()) < 200 and int(seen.sum()) == 200 * 60
    assert int(seen[:10].sum()) == pytest.approx(6_000, rel=0.05)


def test_a_kernel_sparse_network_drops_whole_conv2_kernels_and_nothing_else():
    torch.manual_seed(0)
    model = build_model("lenet5", SHAPE, 10, widths=(6, 12, 16))
    masks = kernel_sparse_masks(model, "conv2", 30, seed=3)
    conv2 = masks["conv2"]
    kernels = conv2.flatten(2)
    assert torch.equal(kernels.all(dim=2), kernels.any(dim=2))  # a kernel lives whole or not at all
    assert int(kernels.any(dim=2).sum()) == 30 and living_kernels(masks) == 6 + 30
    assert all(bool(m.all()) for name, m in masks.items() if name != "conv2")  # conv1, fc1, fc2 dense
    with pytest.raises(ValueError, match="'fc1' is not a conv layer"):
        kernel_sparse_masks(model, "fc1", 30, seed=3)


@pytest.mark.parametrize("kept", [11, 73, 0])
def test_a_kernel_count_that_cannot_keep_every_unit_alive_is_refused(kept):
    with pytest.raises(ValueError, match=f"a 12x6 layer keeps between 12 and 72 kernels .*, not {kept}$"):
        random_kernel_mask(12, 6, kept, torch.Generator())


def test_the_step_keeps_the_mask_fixed_through_training_and_records_its_counts(tmp_path):
    """Momentum and weight decay revive nothing: the saved mask is the drawn one, its dead kernels are 0."""
    from evosynth.artifacts import read_json
    from evosynth.pipeline.steps.common import load_network
    from evosynth.pipeline.steps.probe_train import probe_masks

    params = _sparse_params(recipes=False)
    params["probe"]["train"].update(epochs=2, lr=0.05, weight_decay=0.01)
    commands = [s.cmd for s in build_plan(validate_params(params))
                if s.step == "prepare" or (s.step == "probe_train" and "w10_20_10_k36_s1" in s.cmd)]
    folder = _run(tmp_path / "run", ROOT / "src", params, commands)
    run = folder / "results/probe/w10_20_10_k36_s1"
    model, masks, _ = load_network(run / "model.pt")
    torch.manual_seed(0)
    drawn = probe_masks(build_model("lenet5", SHAPE, 10, widths=(10, 20, 10)), (10, 20, 10), 1, 36)
    assert all(torch.equal(masks[k], drawn[k]) for k in drawn)  # the seed's mask, unchanged by training
    weight = model.conv2.weight.detach()
    assert bool((weight[~masks["conv2"]] == 0).all())  # dead kernels stayed exactly 0 for 2 epochs
    assert int((weight.flatten(2).abs().sum(dim=2) > 0).sum()) == 26  # and the 26 kept ones trained
    metrics = read_json(run / "metrics.json")
    assert (metrics["variant"], metrics["kernels"], metrics["dense_kernels"]) == ("kernel-sparse", 36, 210)
    assert metrics["synapses"] == 25 * 36 + 320 * 10 + 10 * 10 and metrics["architecture"] == "10-20-320-10"
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert drawn["conv2"].flatten(2).any(dim=2).sum() == 26
    other = probe_masks(build_model("lenet5", SHAPE, 10, widths=(10, 20, 10)), (10, 20, 10), 0, 36)
    assert not torch.equal(other["conv2"], drawn["conv2"])  # one mask per seed


# --- the plan ------------------------------------------------------------------------------------------------


def test_kernel_sparse_widths_train_with_probe_train_and_every_recipe():
    steps = {s.name: s for s in build_plan(validate_params(_sparse_params()))}
    sparse = sorted(n for n in steps if "_k36" in n)
    assert sparse == sorted(f"probe_train-w{w}_k36{r}_s{s}" for w in ("6_12_16", "10_20_10") for r in ("", "_e2")
                            for s in (0, 1))
    step = steps["probe_train-w10_20_10_k36_e2_s1"]
    assert " --widths 10 20 10 --seed 1 --recipe e2 --kernels 36 " in step.cmd
    assert step.cmd.endswith("--out-dir results/probe/w10_20_10_k36_e2_s1")
    assert {"probe.kernel_sparse.kernels", "probe.recipes.e2"} <= set(step.params)
    assert "probe.kernel_sparse.kernels" not in steps["probe_train-w4_8_16_e2_s1"].params  # dense: not read
    assert "--kernels" not in steps["probe_train-w4_8_16_s0"].cmd
    assert {f"results/probe/{n.split('-', 1)[1]}/metrics.json" for n in sparse} <= set(steps["probe"].deps)


# --- params --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["probe"]["kernel_sparse"].update(kernels=17),  # 6 + 11: conv2's 12 filters cannot all live
     r"probe\.kernel_sparse\.widths\.0: \[6, 12, 16\] with 17 kernels keeps 11 of conv2's 72 \(conv1 has 6\);"
     r" allowed: 18 to 77 kernels \(every filter and channel alive, sparser than dense\)$"),
    (lambda p: p["probe"]["kernel_sparse"].update(kernels=78, widths=[[6, 12, 16]]),  # dense: not kernel-sparse
     r"probe\.kernel_sparse\.widths\.0: \[6, 12, 16\] with 78 kernels keeps 72 of conv2's 72"),
    (lambda p: p["probe"]["kernel_sparse"].update(kernels=36, widths=[[6, 12, 16], [20, 50, 3]]),
     r"probe\.kernel_sparse\.widths\.1: \[20, 50, 3\] with 36 kernels keeps 16 of conv2's 1000"),
    (lambda p: p["probe"]["kernel_sparse"].pop("kernels"), r"probe\.kernel_sparse: missing key 'kernels'"),
    (lambda p: p["probe"]["kernel_sparse"].update(widths=[]),
     r"probe\.kernel_sparse\.widths: \[\] should be non-empty"),
    (lambda p: p["probe"]["kernel_sparse"].update(density=0.5), r"probe\.kernel_sparse: unknown key 'density'"),
    (lambda p: p["probe"].update(recipes={"k36": {"epochs": 2}}),
     r"probe\.recipes\.k36: a recipe named k<number> reads as a kernel-sparse network's folder;"
     r" allowed: another name$"),
])
def test_bad_kernel_sparse_params_are_one_line_errors_naming_the_key(change, message):
    params = _sparse_params()
    change(params)
    assert_params_refused(params, message)


def test_the_step_checks_the_kernels_on_the_datas_channels():
    from evosynth.pipeline.probe import sparse_kept

    assert sparse_kept([6, 12, 16], 36, 1, "x") == 30
    assert sparse_kept([6, 12, 16], 36, 3, "x") == 18  # three image channels: conv1 holds 18 kernels
    with pytest.raises(ParamsError, match=r"^--kernels: \[6, 12, 16\] with 29 kernels keeps 11 of conv2's 72 \(conv1"
                                          r" has 18\); allowed: 30 to 89 kernels"):
        sparse_kept([6, 12, 16], 29, 3, "--kernels")


def test_the_step_refuses_a_kernel_sparse_training_outside_the_probe_in_one_line(tmp_path):
    step_refusals(tmp_path, _sparse_params(), (
        (["--widths", "6", "12", "16", "--seed", "0", "--kernels", "35"],
         "--kernels: 35 is not probe.kernel_sparse.kernels; allowed: 36"),
        (["--widths", "4", "8", "16", "--seed", "0", "--kernels", "36"],
         "--widths: 4 8 16 is not an entry of probe.kernel_sparse.widths; allowed: 6 12 16, 10 20 10"),
        (["--widths", "6", "12", "16", "--seed", "0", "--kernels", "36", "--recipe", "e9"],
         "--recipe: 'e9' is not a key of probe.recipes; allowed: e2")))
    step_refusals(tmp_path, _probe_params(), (  # no kernel_sparse section
        (["--widths", "4", "8", "16", "--seed", "0", "--kernels", "36"],
         "--kernels: probe.kernel_sparse is missing; allowed: no --kernels (a dense network)"),))


# --- the report ----------------------------------------------------------------------------------------------


def _sparse_runs(widths, accuracies, synapses, kernels, dense_kernels, recipe=None):
    return [{**r, "variant": "kernel-sparse", "dense_kernels": dense_kernels, "recipe": recipe}
            for r in _runs(widths, accuracies, synapses, kernels)]


def test_kernel_sparse_rows_stand_apart_and_count_in_the_answer():
    runs = (_runs((4, 8, 16), [80.0, 81.0, 82.0], 3_108, 36)                            # dense: below
            + _sparse_runs((4, 8, 16), [89.5, 89.6, 89.4], 2_908, 28, 36)               # same widths, sparse: above
            + _sparse_runs((10, 20, 10), [85.0, 85.2, 85.1], 4_200, 36, 210, "e3"))     # a recipe: below
    rows = summarise(runs, REFERENCE, 0.01, TARGETS)
    assert [(r["widths"], r["variant"], r["recipe"]) for r in rows] == [
        ("4-8-16", "dense", "train"), ("4-8-16", "kernel-sparse", "train"), ("10-20-10", "kernel-sparse", "e3")]
    dense, sparse, recipe = rows
    assert dense["kernel_density"] == 1.0 and sparse["kernel_density"] == pytest.approx(28 / 36)
    assert recipe["kernel_density"] == pytest.approx(36 / 210)
    assert recipe["architecture"] == "10-20-10 kernel-sparse (e3)"
    assert [r["verdict"] for r in rows] == ["below", "above", "below"]
    assert answer(rows) == ("reached by these recipes", ["4-8-16 kernel-sparse"])
    assert answer([dense, recipe]) == ("not reached by these recipes", ["4-8-16", "10-20-10 kernel-sparse (e3)"])


def test_the_report_names_the_variant_and_draws_it_as_its_own_series(tmp_path, monkeypatch):
    from evosynth import figures
    from evosynth.reporting.probe import probe_report

    plt = figures.pyplot()
    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *_: None)  # keep the figure open to read its series
    runs = (_runs((4, 8, 16), [80.0, 81.0, 82.0], 3_108, 36)
            + _sparse_runs((10, 20, 10), [85.0, 85.2, 85.1], 4_200, 36, 210))
    rows = summarise(runs, REFERENCE, 0.01, TARGETS)
    info = {"reference": "ref", "tolerance": 0.01, "targets": TARGETS, "confidence": 0.95, "seeds": [0, 1, 2],
            "train": {"epochs": 12, "lr": 0.01, "schedule": "cosine", "batch_size": 64, "distill": {"alpha": 0.0}},
            "recipes": {}, "recipe_widths": [], "kernel_sparse": {"kernels": 36, "widths": [[10, 20, 10]]},
            "test_images": 200}
    outcome, _ = probe_report(rows, REFERENCE, info, [tmp_path / f"probe.{e}" for e in ("md", "csv", "png")])
    text = (tmp_path / "probe.md").read_text()
    assert outcome == "not reached by these recipes" and "**Not reached by these recipes**" in text
    assert "| 10-20-10 kernel-sparse | kernel-sparse, 17.1 % of its kernels | 36 | 4,200 |" in text
    assert "| 4-8-16 | dense | 36 | 3,108 |" in text
    assert "so that the network has 36 conv kernels in all" in text and "a lower bound" in text
    assert "out of reach" not in text.lower() and "reachable" not in text.lower()
    (fig,) = [plt.figure(n) for n in plt.get_fignums()]
    markers = {(line.get_marker(), line.get_color()) for line in fig.get_axes()[2].lines if line.get_marker() != "None"}
    assert markers == {("o", "tab:blue"), ("D", "tab:orange")}  # one series per variant
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "kernel-sparse (fixed kernel mask), meets both targets" in legend
    plt.close("all")
