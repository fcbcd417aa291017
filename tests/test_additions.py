"""The pick's additions, each rule on tiny tensors: distillation, schedules and rewinding, the adaptive
environment, and the plan dependencies they need (the parent's network, the parents' metrics)."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
from torch import nn

from evosynth.data.prepared import Split
from evosynth.errors import ParamsError
from evosynth.evolution.environment import Environment, adapted
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.train import train_config
from evosynth.training import TrainConfig, distillation_loss, learning_rate, train


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Split(x, y, x[:16], y[:16])


# --- distillation ---------------------------------------------------------------------------------


def test_distillation_loss_is_the_hinton_mixture():
    student = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    teacher = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    y = torch.tensor([1, 2])
    hard = nn.functional.cross_entropy(student, y)
    t = 2.0
    p, q = torch.softmax(teacher / t, 1), torch.softmax(student / t, 1)
    kl = (p * (p.log() - q.log())).sum(1).mean()  # KL(teacher || student), batch mean
    got = distillation_loss(hard, student, teacher, alpha=0.25, temperature=t)
    assert got.item() == pytest.approx(0.75 * hard.item() + 0.25 * t * t * kl.item(), rel=1e-6)
    assert distillation_loss(hard, student, teacher, 0.0, t).item() == hard.item()
    assert distillation_loss(hard, teacher.clone(), teacher, 1.0, t).item() == pytest.approx(0.0, abs=1e-7)


def _gap(student, teacher, x):
    """KL(teacher || student) over a batch."""
    return nn.functional.kl_div(torch.log_softmax(student(x), 1), torch.log_softmax(teacher(x), 1),
                                reduction="batchmean", log_target=True).item()


def test_distilled_training_moves_the_student_toward_its_teacher():
    torch.manual_seed(0)
    teacher, student = LeNet5(), LeNet5()
    data = _data()
    with torch.no_grad():
        before = _gap(student, teacher, data.x_train)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.05, distill_alpha=1.0, temperature=1.0)
    train(student, full_masks(student), data, config, seed=0, teacher=teacher)
    with torch.no_grad():
        assert _gap(student, teacher, data.x_train) < 0.5 * before
    with pytest.raises(ValueError, match="teacher"):
        train(student, full_masks(student), data, config, seed=0)


def _distilled(monkeypatch, keep_outputs: bool | int) -> tuple[torch.Tensor, list[int]]:
    """A student distilled for 3 epochs of 8 batches; its conv1 weights and the teacher's forward passes.
    ``keep_outputs``: True (the default limit), False (a limit of 0 bytes) or the limit in bytes."""
    import evosynth.training as training

    if keep_outputs is not True:
        monkeypatch.setattr(training, "TEACHER_OUTPUTS_BYTES", int(keep_outputs))
    torch.manual_seed(0)
    teacher, student = LeNet5(), LeNet5()
    calls = []
    teacher.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    config = TrainConfig(epochs=3, batch_size=16, lr=0.05, distill_alpha=0.7, temperature=2.0)
    train(student, full_masks(student), _data(128), config, seed=4, teacher=teacher)
    return student.conv1.weight.detach().clone(), calls


def test_the_teachers_outputs_are_computed_once_and_read_by_each_batchs_own_images(monkeypatch):
    kept, once = _distilled(monkeypatch, keep_outputs=True)
    assert once == [1, 128]                      # one image to size the outputs, then the training split
    per_batch, every = _distilled(monkeypatch, keep_outputs=False)
    assert every == [1] + [16] * 24              # over the limit: the teacher runs on each of 3 × 8 batches
    # the same targets either way (up to the rounding of a batch's composition): read by the batch's indices
    assert torch.allclose(kept, per_batch, atol=1e-5)


def test_the_teachers_outputs_are_kept_up_to_the_byte_limit_and_no_further(monkeypatch):
    # 128 images × 10 float32 logits = 5,120 bytes: kept at a limit of 5,120, per batch at 5,119
    assert _distilled(monkeypatch, keep_outputs=5_120)[1] == [1, 128]
    assert _distilled(monkeypatch, keep_outputs=5_119)[1] == [1] + [16] * 24


# --- schedules ------------------------------------------------------------------------------------


def test_constant_schedule_is_lr_and_cosine_anneals_to_zero():
    constant = TrainConfig(epochs=2, lr=0.1)
    assert {learning_rate(constant, s, 10) for s in range(20)} == {0.1}
    cosine = TrainConfig(epochs=2, lr=0.1, schedule="cosine")
    assert learning_rate(cosine, 0, 10) == pytest.approx(0.1)
    assert learning_rate(cosine, 10, 10) == pytest.approx(0.05)  # half-way: lr / 2
    assert learning_rate(cosine, 20, 10) == pytest.approx(0.0, abs=1e-12)
    lrs = [learning_rate(cosine, s, 10) for s in range(20)]
    assert all(a > b for a, b in itertools.pairwise(lrs))


def test_rewinding_replays_the_tail_of_the_ancestors_schedule():
    spec = {"ancestor_epochs": 8, "epochs": 2, "lr": 0.1, "schedule": "cosine", "rewind": True}
    ancestor, offspring = train_config(spec, offspring=False), train_config(spec, offspring=True)
    assert (ancestor.epochs, ancestor.schedule_epochs, ancestor.schedule_offset) == (8, None, 0)
    assert (offspring.epochs, offspring.schedule_epochs, offspring.schedule_offset) == (2, 8, 6)
    for step in range(20):  # the offspring's step s is the ancestor's step 6 epochs in
        assert learning_rate(offspring, step, 10) == pytest.approx(learning_rate(ancestor, 60 + step, 10))
    assert learning_rate(offspring, 0, 10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 6 / 8)))
    restart = train_config({**spec, "rewind": False}, offspring=True)
    assert learning_rate(restart, 0, 10) == pytest.approx(0.1)  # no rewinding: a schedule of its own


def test_training_follows_the_schedule():
    """Cosine over 2 epochs of 4 steps (64 samples, batches of 16): the last step of epoch e runs at
    lr·½(1 + cos(π·t/8)), t = 3 and 7, worked by hand; the optimizer really runs at that rate."""
    torch.manual_seed(0)
    model = LeNet5()
    start = copy.deepcopy(model)
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, momentum=0.0, weight_decay=0.0, schedule="cosine")
    log = train(model, full_masks(model), _data(), config, seed=0, on=torch.device("cpu"))
    assert log[0]["last_lr"] == pytest.approx(0.05 * 0.5 * (1 + math.cos(math.pi * 3 / 8)))
    assert log[1]["last_lr"] == pytest.approx(0.05 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert "last_lr" not in train(LeNet5(), full_masks(model), _data(), TrainConfig(epochs=1), seed=0)[0]
    # one SGD step of the first batch at the schedule's first rate (lr, t = 0) moves fc2 by lr·grad
    first = copy.deepcopy(start)
    one = TrainConfig(epochs=1, batch_size=64, lr=0.05, momentum=0.0, weight_decay=0.0, schedule="cosine",
                      schedule_epochs=2, schedule_offset=1)  # t = 1 epoch of 2: lr·½(1 + cos(π/2)) = lr/2
    x, y = _data().x_train, _data().y_train
    nn.functional.cross_entropy(start(x), y).backward()
    train(first, full_masks(first), _data(), one, seed=0, on=torch.device("cpu"))
    assert torch.allclose(first.fc2.weight, start.fc2.weight - 0.025 * start.fc2.weight.grad, atol=1e-6)


def test_default_train_config_is_the_papers():
    spec = {"ancestor_epochs": 3, "epochs": 2, "batch_size": 32, "lr": 0.02, "momentum": 0.8,
            "weight_decay": 0.001, "stress": 0.9}
    for offspring in (False, True):
        assert train_config(spec, offspring) == TrainConfig(epochs=2 if offspring else 3, batch_size=32, lr=0.02,
                                                            momentum=0.8, weight_decay=0.001, stress=0.9)


# --- the adaptive environment ---------------------------------------------------------------------


def test_adaptive_environment_slows_the_shrink_only_past_the_tolerance():
    env = Environment(0.6, cluster_factor=0.8, synapse_factor=0.9, target="macs")
    rule = {"tolerance": 0.01, "slowdown": 0.5}
    same, record = adapted(env, rule, ancestor_accuracy=0.90, parent_accuracy=0.895)
    assert same == env and record["slowed"] is False and record["drop"] == pytest.approx(0.005)
    slowed, record = adapted(env, rule, 0.90, 0.88)
    assert record["slowed"] is True
    assert (slowed.factor, slowed.cluster_factor, slowed.synapse_factor) == pytest.approx((0.8, 0.9, 0.95))
    assert slowed.target == "macs" and slowed.mode == env.mode
    assert adapted(env, {"tolerance": 0.0, "slowdown": 1.0}, 0.9, 0.5)[0].factor == 1.0  # a full stop
    assert adapted(env, None, 0.9, 0.1) == (env, {})  # off: the papers' fixed environment


# --- params and plan ------------------------------------------------------------------------------


@pytest.fixture
def params(tiny_params):
    tiny = tiny_params["experiments"]["tiny"]
    tiny["train"].update(schedule="cosine", rewind=True, distill={"alpha": 0.5, "temperature": 2.0})
    tiny["environment"]["adaptive"] = {"tolerance": 0.01, "slowdown": 0.5}
    tiny_params["baselines"] = {"tiny_gn": {"follow": "tiny", "method": "group_norm"}}
    return tiny_params


def test_the_plan_passes_the_parent_and_the_metrics_when_enabled(params):
    steps = {s.name: s for s in build_plan(validate_params(params))}
    retrain, synthesize = steps["retrain-tiny-gen2"], steps["synthesize-tiny-gen2"]
    assert "results/tiny/gen1/model.pt" in retrain.deps and "--teacher results/tiny/gen1/model.pt" in retrain.cmd
    for metrics in ("results/tiny/gen1/metrics.json", "results/tiny/gen0/metrics.json"):
        assert metrics in synthesize.deps
    assert "--parent-metrics results/tiny/gen1/metrics.json --ancestor-metrics results/tiny/gen0/metrics.json" \
        in synthesize.cmd
    baseline = steps["retrain-tiny_gn-gen2"]  # the same training as the followed run: from its own parent
    assert "--teacher results/tiny_gn/gen1/model.pt" in baseline.cmd
    plain = {s.name: s for s in build_plan(validate_params(_plain(params)))}
    assert "--teacher" not in plain["retrain-tiny-gen2"].cmd
    assert plain["synthesize-tiny-gen2"].deps == ("results/.code/synthesize.json", "results/tiny/gen2/genome.pt")


def _plain(params):
    plain = copy.deepcopy(params)
    plain["experiments"]["tiny"]["train"]["distill"]["alpha"] = 0.0
    plain["experiments"]["tiny"]["environment"]["adaptive"] = None
    return plain


@pytest.mark.parametrize("change, key", [
    (lambda t: t["train"].update(schedule="constant"), "train.rewind"),
    (lambda t: t.update(method="sexual", population={"size": 2}), "train.distill.alpha"),
])
def test_additions_that_cannot_apply_are_refused_with_the_key(params, change, key):
    change(params["experiments"]["tiny"])
    params["baselines"] = {}
    with pytest.raises(ParamsError, match=rf"experiments\.tiny\.{key}"):
        validate_params(params)


def test_offspring_only_training_keys_may_differ_under_a_shared_ancestor(params):
    other = copy.deepcopy(params["experiments"]["tiny"])
    other.update(ancestor="tiny")
    other["train"].update(rewind=False, distill={"alpha": 0.0})
    params["experiments"]["other"] = other
    validate_params(params)
    other["train"]["schedule"] = "constant"
    other["train"]["rewind"] = False
    with pytest.raises(ParamsError, match="experiments.other.ancestor: 'tiny' trains its ancestor with another train"):
        validate_params(params)


# --- the steps, end to end ------------------------------------------------------------------------


def test_every_addition_runs_through_the_evosynth_steps(params, tmp_path):
    """The tiny experiment with every addition on, its group-norm baseline and the picks report, step by step."""
    from conftest import ROOT
    from test_additions_default import _run

    from evosynth.artifacts import read_json

    tiny = params["experiments"]["tiny"]
    tiny["environment"]["adaptive"] = {"tolerance": 0.0, "slowdown": 0.5}  # any drop slows the shrink
    params["runtime"] = {"experiments": [], "repeats": 6, "rounds": 2, "warmup": 1, "picks": ["tiny", "tiny_gn"]}
    commands = [s.cmd for s in build_plan(validate_params(params)) if s.step not in ("report", "code")]
    folder = _run(tmp_path / "run", ROOT / "src", params, commands)
    for gen in (1, 2):
        log = read_json(folder / f"results/tiny/gen{gen}/train_log.json")["epochs"]
        assert log[-1]["last_lr"] < 0.01 * 0.5  # cosine: annealed toward 0 by the last step
        decision = read_json(folder / f"results/tiny/gen{gen}/synthesis.json")["adaptive"]
        assert decision["slowed"] == (decision["drop"] > 0)
        if decision["slowed"]:
            assert decision["factor"] == pytest.approx(0.75)  # 1 - (1 - 0.5)(1 - 0.5)
    assert read_json(folder / "results/tiny_gn/gen2/prune.json")["method"] == "group_norm"
    picks = (folder / "reports/picks/runtime.md").read_text()
    assert "| tiny |" in picks and "| tiny_gn |" in picks
