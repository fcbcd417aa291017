"""MaskedOptimizer: dead synapses and the biases of dead units stay zero, so masked and compacted networks agree."""

import torch

from evosynth.data.prepared import Split
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact
from evosynth.nets.masks import full_masks, prunable_layers, unit_mask
from evosynth.training import MaskedOptimizer, TrainConfig, train


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    return Split(x, torch.randint(0, 10, (n,), generator=g), x[:16], torch.zeros(16, dtype=torch.long))


def _net_with_dead_units():
    """A narrow LeNet5 (4-8-128-16) whose conv2 filters 1, 5 and fc1 neurons 0-5 have no living synapse."""
    torch.manual_seed(0)
    model = LeNet5(widths=(4, 8, 16))
    g = torch.Generator().manual_seed(1)
    masks = {n: torch.rand(m.shape, generator=g) < 0.6 for n, m in full_masks(model).items()}
    masks["conv2"][[1, 5]] = False
    masks["fc1"][:6] = False
    return model, masks


def test_biases_of_dead_units_stay_zero_and_the_compacted_network_computes_the_same():
    """A dead conv2 filter's bias still feeds fc1 through its living synapses: unmasked, training moves it."""
    model, masks = _net_with_dead_units()
    train(model, masks, _data(), TrainConfig(epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=0.01),
          seed=0, on=torch.device("cpu"))
    for name, layer in prunable_layers(model):
        dead = ~unit_mask(masks[name])
        assert (layer.bias[dead] == 0).all(), name
        assert (layer.bias[~dead] != 0).any(), name
    assert (~unit_mask(masks["conv2"])).sum() == 2 and (~unit_mask(masks["fc1"])).sum() == 6
    small = compact(model, masks, (1, 28, 28))
    assert small.model.conv2.out_channels == 6 and small.model.fc1.out_features == 10
    x = _data(8, seed=2).x_train
    model.eval()
    with torch.no_grad():
        assert torch.allclose(small.model(x), model(x), atol=1e-5)


def test_the_wrapper_stops_what_masking_the_weights_alone_lets_momentum_do():
    """The pitfall the wrapper exists for (docs/method.md §6.1): re-masking only the weights after each step
    leaves a momentum buffer that moves dead weights on the next step; MaskedOptimizer keeps them, their
    momentum and the dead units' biases at exactly zero under the same steps."""
    data = _data(32)
    moved = {}
    for wrapped in (False, True):
        model, masks = _net_with_dead_units()
        inner = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        opt = MaskedOptimizer(model, masks, inner) if wrapped else inner
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
            opt.step()
            if not wrapped:
                with torch.no_grad():
                    for name, layer in prunable_layers(model):
                        layer.weight.mul_(masks[name])  # masking the weights only ...
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()  # ... and the momentum buffer moves the dead weights again
        moved[wrapped] = sum(int((layer.weight[~masks[n]] != 0).sum()) for n, layer in prunable_layers(model))
        if wrapped:
            for name, layer in prunable_layers(model):
                assert (inner.state[layer.weight]["momentum_buffer"][~masks[name]] == 0).all(), name
                dead = ~unit_mask(masks[name])
                assert (layer.bias[dead] == 0).all() and (inner.state[layer.bias]["momentum_buffer"][dead] == 0).all()
    assert moved[False] > 0 and moved[True] == 0
