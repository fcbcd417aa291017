"""Stress acts between epochs (StressedNets eq. 6: Ŵ_{t+1} from Ŵ_t), none after the last: the network saved,
evaluated and encoded is the trained one, not one weakened after training ended."""

from __future__ import annotations

import copy

import pytest
import torch

from evosynth.data.prepared import Split
from evosynth.nets.architectures import build_model
from evosynth.nets.masks import full_masks
from evosynth.training import MaskedOptimizer, TrainConfig, train


def _data() -> Split:
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(96, 1, 28, 28, generator=g), torch.randint(0, 10, (96,), generator=g)
    return Split(x, y, x[:16], y[:16])


def _net(seed: int = 2) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    model = build_model("lenet5", (1, 28, 28), 10)
    masks = {n: torch.rand(m.shape, generator=torch.Generator().manual_seed(3)) < 0.6
             for n, m in full_masks(model).items()}
    return model, masks


@pytest.mark.parametrize("epochs", [1, 2])
def test_the_returned_weights_are_those_of_the_last_optimizer_step(monkeypatch, epochs):
    """β = 0.8: whatever stress did between epochs, nothing touches the weights after the last step."""
    snapshots = []
    step = MaskedOptimizer.step

    def recorded(self):
        step(self)
        snapshots.append({id(p): p.detach().clone() for p, _ in self.pairs})

    monkeypatch.setattr(MaskedOptimizer, "step", recorded)
    model, masks = _net()
    history = train(model, masks, _data(), TrainConfig(epochs=epochs, batch_size=32, stress=0.8), seed=7,
                    on=torch.device("cpu"))
    last = snapshots[-1]
    weights = [layer for layer in model.parameters() if id(layer) in last]
    assert len(weights) == len(last) > 0
    for param in weights:
        assert torch.equal(param.detach(), last[id(param)])  # byte for byte the trained weights
    stressed = [epoch["stressed_synapses"] for epoch in history]
    assert stressed[-1] == 0 and all(n > 0 for n in stressed[:-1])  # between epochs only


def test_one_stressed_epoch_trains_exactly_the_unstressed_network():
    """With one epoch there is no "between": β = 0.8 saves the very weights β = 1 does."""
    runs = {}
    for beta in (1.0, 0.8):
        model, masks = _net()
        train(model, masks, _data(), TrainConfig(epochs=1, batch_size=32, stress=beta), seed=7, on=torch.device("cpu"))
        runs[beta] = copy.deepcopy(model.state_dict())
    assert runs[1.0].keys() == runs[0.8].keys()
    assert all(torch.equal(runs[1.0][k], runs[0.8][k]) for k in runs[1.0])
    # two epochs: the stress between them changes what the second epoch trains
    twice = {}
    for beta in (1.0, 0.8):
        model, masks = _net()
        train(model, masks, _data(), TrainConfig(epochs=2, batch_size=32, stress=beta), seed=7, on=torch.device("cpu"))
        twice[beta] = model.state_dict()
    assert not all(torch.equal(twice[1.0][k], twice[0.8][k]) for k in twice[1.0])


def test_the_loop_stresses_with_the_runs_generator_not_the_global_rng():
    """β = 0.8 between epochs: the uniform numbers of eq. 6 come from the run's generator whatever the global RNG holds."""
    from evosynth.evolution.stress import stress
    from evosynth.training import _stress

    model, masks = _net()
    expected = copy.deepcopy(model)
    counts = stress(expected, masks, 0.8, torch.Generator().manual_seed(11))
    torch.manual_seed(12345)  # a global state the draws must not come from
    assert _stress(model, masks, 0.8, torch.Generator().manual_seed(11), torch.device("cpu")) == counts
    assert sum(counts.values()) > 0
    for (name, got), want in zip(model.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(got, want), name
