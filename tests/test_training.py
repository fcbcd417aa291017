"""Masked training: momentum and weight decay never revive a dead synapse."""

import pytest
import torch

from evosynth.data.prepared import Split
from evosynth.errors import DivergenceError
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks, prunable_layers
from evosynth.training import MaskedOptimizer, TrainConfig, train


def _data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Split(x, y, x[:32], y[:32])


def _sparse_masks(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {name: torch.rand(m.shape, generator=g) < 0.4 for name, m in full_masks(model).items()}


def test_sgd_momentum_and_weight_decay_leave_dead_weights_exactly_zero():
    torch.manual_seed(0)
    model = LeNet5()
    masks = _sparse_masks(model)
    train(model, masks, _data(), TrainConfig(epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=0.01), seed=1)
    for name, layer in prunable_layers(model):
        assert (layer.weight[~masks[name]] == 0).all(), name
        assert (layer.weight[masks[name]] != 0).any(), name


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
])
def test_optimizer_state_of_dead_synapses_is_zeroed(make):
    torch.manual_seed(0)
    model = LeNet5()
    masks = _sparse_masks(model)
    inner = make(model.parameters())
    opt = MaskedOptimizer(model, masks, inner)
    data = _data(32)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    for name, layer in prunable_layers(model):
        assert (layer.weight[~masks[name]] == 0).all()
        for value in inner.state[layer.weight].values():
            if value.shape == layer.weight.shape:
                assert (value[~masks[name]] == 0).all()


def test_training_is_deterministic_for_a_seed():
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = LeNet5()
        train(model, full_masks(model), _data(), TrainConfig(epochs=1, batch_size=32), seed=5)
        results.append(model.fc2.weight.clone())
    assert torch.equal(results[0], results[1])


def test_divergence_names_epoch_and_step():
    torch.manual_seed(0)
    model = LeNet5()
    data = _data()
    bad = Split(data.x_train * float("nan"), data.y_train, data.x_test, data.y_test)
    with pytest.raises(DivergenceError, match=r"^tiny gen3 retrain: loss is nan at epoch 1, step 1/8;"
                                              r" lower train.lr or check the data$"):
        train(model, full_masks(model), bad, TrainConfig(epochs=1, batch_size=16), seed=0, label="tiny gen3 retrain")


def test_device_follows_the_environment_variable_then_cuda_then_the_cpu(monkeypatch):
    from evosynth import training

    monkeypatch.setenv("EVOSYNTH_DEVICE", "meta")
    assert training.device() == torch.device("meta")
    monkeypatch.delenv("EVOSYNTH_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training.device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.device() == torch.device("cuda")


def test_bad_schedule_and_distillation_without_a_teacher_are_refused_in_one_line():
    from evosynth.training import learning_rate

    with pytest.raises(ValueError, match=r"^unknown schedule 'step'; allowed: constant, cosine$"):
        learning_rate(TrainConfig(epochs=1, schedule="step"), 0, 10)
    torch.manual_seed(0)
    model = LeNet5()
    with pytest.raises(ValueError, match=r"^distillation \(distill_alpha > 0\) needs the parent network as teacher$"):
        train(model, full_masks(model), _data(), TrainConfig(epochs=1, distill_alpha=0.5), seed=0)


def test_progress_lines_name_the_run_and_default_to_train(capsys):
    torch.manual_seed(0)
    model = LeNet5()
    history = train(model, full_masks(model), _data(n=64), TrainConfig(epochs=2, batch_size=32), seed=0)
    assert [record["epoch"] for record in history] == [1, 2]
    lines = [line for line in capsys.readouterr().err.splitlines() if ": loss " in line]
    assert lines == [
        f"train epoch {r['epoch']}/2: loss {r['loss']:.4f}, train accuracy {r['train_accuracy']:.4f},"
        f" stressed 0, {r['seconds']:.1f} s"
        for r in history
    ]


def test_the_model_trains_on_the_device_asked_for_else_on_device(monkeypatch):
    """``on`` wins; without it :func:`device` chooses (asked once); the model is moved there, then back."""
    from evosynth import training

    asked = []
    monkeypatch.setattr(training, "device", lambda: asked.append(1) or torch.device("cpu"))
    for on, expect_asked in ((None, [1]), (torch.device("cpu"), [])):
        asked.clear()
        torch.manual_seed(0)
        model = LeNet5()
        moves = []
        real_to = model.to
        monkeypatch.setattr(model, "to", lambda *a, **k: moves.append(a[0] if a else k) or real_to(*a, **k))
        train(model, full_masks(model), _data(n=64), TrainConfig(epochs=1, batch_size=32), seed=0, on=on)
        assert asked == expect_asked
        assert moves[0] == torch.device("cpu") and moves[-1] == "cpu", moves


def _trained(config: TrainConfig, seed: int = 5, global_seed: int = 0, teacher=None) -> torch.Tensor:
    """fc2's weights after training one fixed LeNet5 (the same start every call) with ``config``."""
    torch.manual_seed(0)
    model = LeNet5()
    torch.manual_seed(global_seed)  # the global RNG's state must not matter, only ``seed``
    train(model, full_masks(model), _data(n=64), config, seed=seed, teacher=teacher)
    return model.fc2.weight.detach().clone()


def test_every_knob_of_the_config_reaches_the_update():
    """Momentum, weight decay, the seed (not the global RNG) and distillation at α < 1 each change the weights."""
    base = TrainConfig(epochs=1, batch_size=32)
    reference = _trained(base)
    assert torch.equal(reference, _trained(base, global_seed=1))
    assert not torch.equal(reference, _trained(base, seed=6))
    assert not torch.equal(reference, _trained(TrainConfig(epochs=1, batch_size=32, momentum=0.0)))
    assert not torch.equal(reference, _trained(TrainConfig(epochs=1, batch_size=32, weight_decay=0.0)))
    torch.manual_seed(7)
    teacher = LeNet5()
    distilled = _trained(TrainConfig(epochs=1, batch_size=32, distill_alpha=0.3, temperature=2.0), teacher=teacher)
    assert not torch.equal(reference, distilled)


def test_the_epoch_loss_is_the_float64_mean_of_the_batch_losses(capsys):
    """The logged loss is Σ loss_b · |b| / n summed in float64 (as in Python floats), bit for bit."""
    from evosynth.tasks.base import Objective

    seen = []

    def loss(logits, y):
        value = torch.nn.functional.cross_entropy(logits, y)
        seen.append((float(value.detach()), len(y)))
        return value

    torch.manual_seed(0)
    model = LeNet5()
    history = train(model, full_masks(model), _data(n=100), TrainConfig(epochs=1, batch_size=32), seed=0,
                    objective=Objective(loss=loss))
    assert [n for _, n in seen] == [32, 32, 32, 4]
    assert history[0]["loss"] == sum(value * n for value, n in seen) / 100
    assert "train_accuracy" not in history[0]  # an objective that counts nothing logs no accuracy
    assert f"train epoch 1/1: loss {history[0]['loss']:.4f}, stressed 0, " in capsys.readouterr().err


def test_the_logged_training_accuracy_counts_every_batch_of_the_epoch():
    """train_accuracy is the right predictions summed over all batches, over n (not the last batch's count)."""
    from evosynth.tasks.base import CLASSIFICATION_OBJECTIVE, Objective

    counts = []

    def correct(logits, y):
        right = CLASSIFICATION_OBJECTIVE.correct(logits, y)
        counts.append(int(right))
        return right

    torch.manual_seed(0)
    model = LeNet5()
    history = train(model, full_masks(model), _data(n=100), TrainConfig(epochs=1, batch_size=32), seed=0,
                    objective=Objective(loss=CLASSIFICATION_OBJECTIVE.loss, correct=correct))
    assert len(counts) == 4 and counts[-1] != sum(counts)
    assert history[0]["train_accuracy"] == sum(counts) / 100


def test_the_teacher_is_frozen_in_eval_mode_its_batch_norm_statistics_untouched():
    """Distillation reads the parent in eval mode: a teacher handed over in train mode (batch norm and
    dropout live) is switched to eval, so its running statistics stay as they were and its targets are
    deterministic; training in its train mode would update them on every batch."""
    torch.manual_seed(3)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32),
                                  torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(32, 10))
    teacher.train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    model = LeNet5()
    train(model, full_masks(model), _data(), TrainConfig(epochs=1, batch_size=32, distill_alpha=0.7), seed=0,
          teacher=teacher)
    assert not teacher.training
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())


def _screen(text: str) -> list[str]:
    """The rows a terminal shows after ``text``: each carriage return rewrites its row from the left."""
    rows = []
    for line in text.split("\n"):
        row = ""
        for part in line.split("\r"):
            row = part + row[len(part):]
        rows.append(row.rstrip())
    return [row for row in rows if row]


def test_the_progress_bar_shows_on_a_terminal_named_for_the_epoch_and_is_cleared_after_it(capsys, monkeypatch):
    """Off a terminal (logs, DVC, SLURM) only the epoch lines are written; on a terminal a bar labelled
    with the run and epoch runs during each epoch and is wiped when it ends, leaving only those lines."""
    import io
    import re
    import sys

    def run(label):
        torch.manual_seed(0)
        model = LeNet5()
        train(model, full_masks(model), _data(n=64), TrainConfig(epochs=2, batch_size=32), seed=0, label=label)

    run("logged")
    written = capsys.readouterr().err
    assert "%|" not in written and "\r" not in written
    assert _screen(written) == [row for row in written.splitlines() if row.startswith("logged epoch ")]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run("tiny")
    shown = terminal.getvalue()
    assert re.search(r"\rtiny epoch 1/2:\s+0%\|", shown) and re.search(r"\rtiny epoch 2/2:\s+0%\|", shown)
    rows = _screen(shown)
    assert [row.split(":")[0] for row in rows] == ["tiny epoch 1/2", "tiny epoch 2/2"]
    assert all(": loss " in row for row in rows)


def test_a_frozen_layer_without_gradients_stays_as_it_was_while_the_rest_trains():
    """A parameter that gets no gradient (frozen with requires_grad=False) is skipped by the masking of
    gradients, not an error; it keeps its values and the other layers still learn."""
    torch.manual_seed(0)
    model = LeNet5()
    model.conv1.weight.requires_grad_(False)
    frozen, other = model.conv1.weight.detach().clone(), model.fc2.weight.detach().clone()
    train(model, full_masks(model), _data(n=64), TrainConfig(epochs=1, batch_size=32), seed=0)
    assert model.conv1.weight.grad is None and torch.equal(model.conv1.weight, frozen)
    assert not torch.equal(model.fc2.weight, other)


def test_stress_runs_between_epochs_only_below_one_and_draws_from_the_run_seed(monkeypatch):
    """StressedNets eq. 6 acts between epochs when β < 1 (never after the last epoch), drawing from the
    run's seeded generator; β = 1 means no stress at all: no draw that would shift the later epochs' order."""
    from evosynth import training

    calls = []
    real = training.stress

    def recorded(model, masks, beta, generator):
        calls.append((beta, generator))
        return real(model, masks, beta, generator)

    monkeypatch.setattr(training, "stress", recorded)
    for beta, expected in ((1.0, 0), (0.7, 2)):
        calls.clear()
        _trained(TrainConfig(epochs=3, batch_size=32, stress=beta))
        assert len(calls) == expected and all(b == beta and isinstance(g, torch.Generator) for b, g in calls)
    stressed = TrainConfig(epochs=2, batch_size=32, stress=0.7)
    assert torch.equal(_trained(stressed, global_seed=0), _trained(stressed, global_seed=1))


def test_each_epoch_logs_its_wall_time_in_seconds_to_the_millisecond():
    import time

    torch.manual_seed(0)
    model = LeNet5()
    started = time.perf_counter()
    history = train(model, full_masks(model), _data(n=64), TrainConfig(epochs=2, batch_size=32), seed=0)
    elapsed = time.perf_counter() - started
    seconds = [record["seconds"] for record in history]
    assert all(isinstance(s, float) and 0 < s <= elapsed and round(s, 3) == s for s in seconds), seconds
    assert sum(seconds) <= elapsed + 0.002
