"""StressedNets eq. 6–8: weak synapses are weakened by β more often than strong ones."""

import math

import pytest
import torch

from evosynth.evolution.encoding import synapse_probability
from evosynth.evolution.stress import stress
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks


def _model(seed=0):
    torch.manual_seed(seed)
    return LeNet5()


def test_fraction_weakened_matches_one_minus_mean_q():
    model = _model()
    masks = full_masks(model)
    expected = sum(float((1 - synapse_probability(model.get_submodule(n).weight, m)).sum()) for n, m in masks.items())
    counts = [sum(stress(_model(), masks, 0.5, torch.Generator().manual_seed(s)).values()) for s in range(5)]
    assert abs(sum(counts) / len(counts) - expected) < 0.01 * expected


def test_weakened_synapses_are_scaled_by_beta_and_others_untouched():
    model = _model()
    before = model.fc1.weight.detach().clone()
    stress(model, full_masks(model), 0.5, torch.Generator().manual_seed(0))
    after = model.fc1.weight.detach()
    changed = after != before
    assert torch.allclose(after[changed], 0.5 * before[changed])
    assert 0 < changed.float().mean() < 1


def test_strong_synapses_are_weakened_less_often():
    w = torch.linspace(-1, 1, 2001)
    layer = torch.nn.Linear(2001, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w)
    model = torch.nn.Sequential(layer)
    masks = {"0": torch.ones(1, 2001, dtype=torch.bool)}
    hits = torch.zeros(2001)
    for s in range(200):
        with torch.no_grad():
            layer.weight.copy_(w)
        stress(model, masks, 0.5, torch.Generator().manual_seed(s))
        hits += (layer.weight[0] != w).float()
    strong, weak = hits[w.abs() > 0.8].mean() / 200, hits[w.abs() < 0.2].mean() / 200
    assert weak > strong + 0.3
    assert math.isclose(float(weak), 1 - math.exp(-0.9), abs_tol=0.05)  # mean q over |w| < 0.2 ≈ e^-0.9


def test_the_reversed_reading_fails():
    """The known wrong reading zeroes strong synapses and weakens weak ones: not ours."""
    model = _model()
    strong = model.fc1.weight.abs() > 0.9 * model.fc1.weight.abs().max()
    before = model.fc1.weight.detach().clone()
    stress(model, full_masks(model), 0.5, torch.Generator().manual_seed(0))
    assert (model.fc1.weight[strong] != 0).all()
    assert (model.fc1.weight[strong] == before[strong]).float().mean() > 0.9


def test_beta_one_changes_nothing_but_draws_the_same_selection():
    """β = 1 leaves every weight as it was, yet selects exactly the synapses β = 0.5 weakens."""
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    counts = stress(model, full_masks(model), 1.0, torch.Generator().manual_seed(0))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    halved = _model()
    weakened = stress(halved, full_masks(halved), 0.5, torch.Generator().manual_seed(0))
    assert counts == weakened and sum(counts.values()) > 0
    changed = sum(int((halved.get_submodule(n).weight != before[f"{n}.weight"]).sum()) for n in counts)
    assert changed == sum(weakened.values())


def test_dead_synapses_are_never_stressed_even_with_a_stale_weight():
    """A masked-out synapse is not drawn: its weight (left non-zero on purpose) is untouched, not counted."""
    model = _model()
    masks = full_masks(model)
    masks["fc1"][:, :100] = False
    before = model.fc1.weight.detach().clone()
    counts = stress(model, masks, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(model.fc1.weight[:, :100], before[:, :100])
    changed = model.fc1.weight != before
    assert counts["fc1"] == int(changed.sum()) > 0
    assert int(changed[:, 100:].sum()) == counts["fc1"]


def test_stress_runs_inside_the_training_loop_once_per_epoch():
    """training.train with β < 1 weakens synapses between epochs (none after the last, StressedNets eq. 6);
    β = 1 trains the same batches unstressed."""
    from evosynth.data.prepared import Split
    from evosynth.training import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)
    runs = {}
    for beta in (1.0, 0.5):
        model = _model()
        masks = {n: torch.rand(m.shape, generator=torch.Generator().manual_seed(1)) < 0.4
                 for n, m in full_masks(model).items()}
        history = train(model, masks, Split(x, y, x[:32], y[:32]), TrainConfig(epochs=2, batch_size=32, stress=beta),
                        seed=1, on=torch.device("cpu"))
        runs[beta] = (model, masks, history)
    assert [r["stressed_synapses"] for r in runs[1.0][2]] == [0, 0]
    stressed = [r["stressed_synapses"] for r in runs[0.5][2]]
    assert stressed[0] > 0 and stressed[1:] == [0]  # between epochs 1 and 2; none after the last
    model, masks, _ = runs[0.5]
    for name, mask in masks.items():  # dead synapses stay dead through stress and training
        assert not model.get_submodule(name).weight[~mask].any()
    norm = {b: sum(float(r[0].get_submodule(n).weight.detach().abs().sum()) for n in r[1]) for b, r in runs.items()}
    assert norm[0.5] < 0.95 * norm[1.0]  # the weakened weights are what training hands on


@pytest.mark.parametrize("beta", [0.0, 1.5])
def test_beta_outside_range_is_refused(beta):
    with pytest.raises(ValueError, match="beta"):
        stress(_model(), full_masks(_model()), beta, torch.Generator())
