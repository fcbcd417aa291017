"""Beyond LeNet5: the papers' architectures through encode → synthesize → compact → train.

Shapes are checked at the papers' widths; the end-to-end runs use tiny inputs
and, where a constructor has a ``width``, reduced widths (ResNet-56 and
LeNet5 run at full width).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from evosynth.evolution.encoding import cluster_probability, cluster_strength, encode, encode_clusters
from evosynth.evolution.environment import Environment
from evosynth.evolution.synthesis import keep_minimum, synthesize_clustered, synthesize_synapses
from evosynth.nets.architectures import ARCHITECTURES, LeNet5, build_model
from evosynth.nets.architectures.alexnet import AlexNetCifar
from evosynth.nets.architectures.detectnet import DetectNet
from evosynth.nets.architectures.resnet import ResNet56
from evosynth.nets.architectures.vgg_saliency import VGG16Saliency
from evosynth.nets.architectures.yolov2 import YOLOv2
from evosynth.nets.compaction import compact
from evosynth.nets.coupling import (
    channel_groups,
    coupled_channels,
    dependency_graph,
    groups_of_graph,
    norm_layers,
)
from evosynth.nets.masks import Masks, apply_masks, full_masks, layer_units, prunable_layers, unit_mask
from evosynth.training import MaskedOptimizer

TINY = {  # name -> (constructor of a reduced network, input shape, classes)
    "lenet5": (lambda: build_model("lenet5", (3, 32, 32), 10), (3, 32, 32), 10),
    "cifar10_quick": (lambda: build_model("cifar10_quick", (3, 32, 32), 10), (3, 32, 32), 10),
    "alexnet": (lambda: AlexNetCifar(3, 10, 32, width=1 / 8), (3, 32, 32), 10),
    "resnet56": (lambda: build_model("resnet56", (3, 32, 32), 10), (3, 32, 32), 10),
    "vgg16_saliency": (lambda: VGG16Saliency(3, 2, 32, width=1 / 16), (3, 32, 32), 2),
    "yolov2": (lambda: YOLOv2(3, 2, 64, width=1 / 16), (3, 64, 64), 2),
    "detectnet": (lambda: DetectNet(3, 2, 64, width=1 / 8), (3, 64, 64), 2),
}


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: layer.weight for name, layer in prunable_layers(model)}


def _randomise_norms(model: nn.Module, seed: int) -> None:
    """Trained-looking batch norms: a dead filter's BN would emit β − γμ/σ ≠ 0 if left alone."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def _synthesize(model: nn.Module, shape: tuple[int, ...], method: str, factor: float, seed: int = 0) -> Masks:
    """One generation from a full ancestor, as the encode and synthesize steps run it."""
    masks = full_masks(model)
    groups = coupled_channels(model, shape)  # as the encode and synthesize steps pass them
    genome = encode(_weights(model), masks)
    output = prunable_layers(model)[-1][0]
    if method == "evonet":
        offspring, _ = synthesize_synapses(genome, Environment(factor), seed, groups=groups)
    else:
        clusters = encode_clusters(_weights(model), masks, method, 0.1, groups=groups)
        env = Environment(factor, cluster_factor=factor)
        offspring, _ = synthesize_clustered(genome, clusters, method, env, seed, {output}, groups=groups)
    return keep_minimum(offspring, genome, output, groups)


def _natural_loss(name: str, output: torch.Tensor, classes: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if name in ("yolov2", "detectnet"):  # any simple loss on the detection tensor
        return (output - torch.randn(output.shape, generator=g)).pow(2).mean()
    if name == "vgg16_saliency":  # per-pixel 2-class cross-entropy against a random saliency mask
        target = torch.randint(0, 2, (output.shape[0], *output.shape[2:]), generator=g)
        return nn.functional.cross_entropy(output, target)
    return nn.functional.cross_entropy(output, torch.randint(0, classes, (output.shape[0],), generator=g))


def _assert_shared_fate(model: nn.Module, shape: tuple[int, ...], masks: Masks) -> None:
    for group in coupled_channels(model, shape):
        alive = torch.stack(
            [group.per_channel(n, unit_mask(masks[n])[m.index]) for n, m in group.producers.items()]
        )
        assert (alive.all(dim=0) | ~alive.any(dim=0)).all(), f"group rooted at {group.root} split"


@pytest.mark.parametrize("method", ["evonet", "filter"])
@pytest.mark.parametrize("name", list(TINY))
def test_encode_synthesize_compact_train_evaluate(name: str, method: str) -> None:
    build, shape, classes = TINY[name]
    torch.manual_seed(0)
    model = build()
    _randomise_norms(model, 0)
    masks = _synthesize(model, shape, method, 0.5)
    _assert_shared_fate(model, shape, masks)
    apply_masks(model, masks)
    small = compact(model, masks, shape)
    masks = small.ancestor_masks(masks)
    x = torch.randn(4, *shape)
    model.eval(), small.model.eval()
    with torch.no_grad():
        expected, got = model(x), small.model(x)
    assert got.shape == expected.shape
    assert (expected - got).abs().max() <= 1e-4
    before = sum(p.numel() for p in model.parameters())
    after = sum(p.numel() for p in small.model.parameters())
    if method == "filter":  # half the filter clusters die: the network really shrinks
        assert after < 0.8 * before
    out_name = prunable_layers(model)[-1][0]
    assert (
        small.model.get_submodule(out_name).weight.shape[0] == model.get_submodule(out_name).weight.shape[0]
    )
    # one plain SGD step on random data, masks kept by the masked optimizer
    small.model.train()
    optimizer = MaskedOptimizer(small.model, small.masks, torch.optim.SGD(small.model.parameters(), lr=0.01))
    optimizer.zero_grad()
    loss = _natural_loss(name, small.model(torch.randn(4, *shape)), classes)
    loss.backward()
    optimizer.step()
    for layer_name, layer in prunable_layers(small.model):
        assert not (layer.weight.detach()[~small.masks[layer_name]] != 0).any()
    small.model.eval()
    with torch.no_grad():
        assert torch.isfinite(small.model(x)).all()


def test_registry_builds_every_architecture_for_its_papers_input() -> None:
    assert set(ARCHITECTURES) == {"lenet5", "cifar10_quick", "alexnet", "resnet56", "vgg16_saliency", "yolov2", "detectnet"}
    lenet = build_model("lenet5", (3, 32, 32), 10)  # sexual paper, CIFAR-10
    assert lenet.conv1.in_channels == 3 and lenet.fc1.in_features == 50 * 5 * 5
    assert lenet(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="square"):
        build_model("resnet56", (3, 32, 16), 10)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("yolov2", (3, 80, 80), 2)


def test_alexnet_is_96_256_384_384_256_4096_4096() -> None:
    model = build_model("alexnet", (3, 32, 32), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.kernel_size[0] for c in convs] == [5, 5, 3, 3, 3]  # StressedNets §4.1.2
    assert (model.fc1.in_features, model.fc1.out_features, model.fc2.out_features) == (4096, 4096, 4096)
    assert model.fc3.out_features == 10
    widths = [3, 96, 256, 384, 384, 256]
    conv_params = sum(i * o * k * k + o for i, o, k in zip(widths, widths[1:], [5, 5, 3, 3, 3]))
    fc_params = 4096 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == conv_params + fc_params
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_resnet56_has_56_weighted_layers_and_085m_parameters() -> None:
    model = build_model("resnet56", (3, 32, 32), 10)
    layers = prunable_layers(model)
    projections = [n for n, _ in layers if "shortcut" in n]
    assert len(layers) - len(projections) == 56 and len(projections) == 2  # 6n + 2 and option B
    widths = sorted({layer.out_channels for _, layer in layers if isinstance(layer, nn.Conv2d)})
    assert widths == [16, 32, 64]
    parameters = sum(p.numel() for p in model.parameters())
    assert math.isclose(parameters, 0.85e6, rel_tol=0.01)
    assert parameters == 853_018 + 16 * 32 + 32 * 64 + 2 * (32 + 64)  # option A's count + projections
    # the three residual streams: stem or projection plus nine block outputs each
    groups = coupled_channels(model, (3, 32, 32))
    assert sorted((g.size, len(g.producers)) for g in groups) == [(16, 10), (32, 10), (64, 10)]
    assert {n for g in groups for n in g.producers} >= {
        "conv1",
        "blocks.9.shortcut.0",
        "blocks.18.shortcut.0",
    }


def test_saliency_network_stacks_and_output() -> None:
    model = build_model("vgg16_saliency", (3, 64, 64), 2)
    vgg = [[c.out_channels for c in stack] for stack in model.vgg.values()]
    assert vgg == [[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3]
    assert [model.c6.out_channels, model.c7.out_channels, model.c8.out_channels] == [256, 512, 512]
    assert (model.c9.in_channels, model.c9.out_channels, model.c9.kernel_size) == (
        256 + 512 + 512,
        384,
        (1, 1),
    )
    assert (model.c10.out_channels, model.c10.kernel_size, model.c11.out_channels) == (512, (11, 11), 384)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 2, 64, 64)
        saliency = model.saliency(x)
    assert saliency.shape == (1, 64, 64) and ((saliency >= 0) & (saliency <= 1)).all()
    # c9 and c11 are added: one coupled group of 384 channels
    assert [(g.size, sorted(g.producers)) for g in coupled_channels(model, (3, 64, 64))] == [
        (384, ["c11", "c9"])
    ]


def test_yolov2_darknet19_head_and_output_tensor() -> None:
    model = build_model("yolov2", (3, 96, 96), 2)
    convs = [layer for _, layer in prunable_layers(model)]
    assert all(isinstance(c, nn.Conv2d) for c in convs) and len(convs) == 18 + 5  # Darknet-19 convs + head
    assert [c.out_channels for c in convs[:18]] == [
        32,
        64,
        128,
        64,
        128,
        256,
        128,
        256,
        512,
        256,
        512,
        256,
        512,
        1024,
        512,
        1024,
        512,
        1024,
    ]
    assert model.passthrough[0].out_channels == 64 and model.fuse[0].in_channels == 4 * 64 + 1024
    assert model.output.out_channels == 5 * (5 + 2)
    with torch.no_grad():
        assert model.eval()(torch.zeros(2, 3, 96, 96)).shape == (2, 35, 3, 3)
    assert math.isclose(sum(p.numel() for p in model.parameters()), 50.5e6, rel_tol=0.01)
    assert not coupled_channels(model, (3, 96, 96))  # concatenation couples nothing


def test_passthrough_channel_is_removed_from_all_four_reorg_offsets() -> None:
    torch.manual_seed(0)
    model = YOLOv2(3, 2, 64, width=1 / 16)
    _randomise_norms(model, 1)
    masks = full_masks(model)
    masks["passthrough.0"][[1, 3]] = False
    fuse_inputs = {u.name: u.inputs for u in layer_units(model, masks)}["fuse.0"]
    assert fuse_inputs[:16].nonzero().flatten().tolist() == [0, 2, 4, 6, 8, 10, 12, 14] and fuse_inputs[16:].all()
    apply_masks(model, masks)
    small = compact(model, masks, (3, 64, 64))
    assert small.model.passthrough[0].out_channels == 2
    assert small.model.fuse[0].in_channels == 4 * 2 + 64
    reader = next(g for g in channel_groups(model, (3, 64, 64)) if "passthrough.0" in g.producers)
    assert sorted(reader.readers["fuse.0"].index[reader.readers["fuse.0"].root == 3].tolist()) == [
        3,
        7,
        11,
        15,
    ]
    x = torch.randn(2, 3, 64, 64)
    model.eval(), small.model.eval()
    with torch.no_grad():
        assert (model(x) - small.model(x)).abs().max() <= 1e-4


@pytest.mark.parametrize("method", ["evonet", "filter", "kernel"])
def test_resnet56_residual_groups_live_or_die_whole_and_survive_factor_01(method: str) -> None:
    torch.manual_seed(0)
    model = ResNet56()
    _randomise_norms(model, 2)
    shape = (3, 32, 32)
    masks = _synthesize(model, shape, method, 0.1, seed=3)
    _assert_shared_fate(model, shape, masks)
    apply_masks(model, masks)
    small = compact(model, masks, shape)
    filters = [sum(c.out_channels for _, c in prunable_layers(m)[:-1]) for m in (model, small.model)]
    if method == "filter":  # most filters die, whole residual channels with them
        assert filters[1] < 0.3 * filters[0]
    else:  # about 10 % of the synapses survive
        assert sum(int(m.sum()) for m in masks.values()) < 0.15 * sum(m.numel() for m in masks.values())
    ancestor = small.ancestor_masks(masks)
    _assert_shared_fate(model, shape, ancestor)
    for group in coupled_channels(model, shape):  # compaction removed each group channel in every member
        widths = {small.model.get_submodule(n).out_channels for n in group.producers}
        assert len(widths) == 1
    x = torch.randn(4, *shape)
    model.eval(), small.model.eval()
    with torch.no_grad():
        assert (model(x) - small.model(x)).abs().max() <= 1e-4


def test_filter_clusters_of_a_residual_group_are_one_cluster() -> None:
    """Cluster paper eq. 2 over the group: W_g = Σ member strengths, Z the group's largest."""
    torch.manual_seed(0)
    model = ResNet56()
    masks = full_masks(model)
    groups = coupled_channels(model, (3, 32, 32))
    probabilities = encode_clusters(_weights(model), masks, "filter", 0.1, groups=groups)
    plain = encode_clusters(_weights(model), masks, "filter", 0.1)
    group = next(g for g in groups if g.size == 32)
    combined = sum(
        cluster_strength(_weights(model)[n], masks[n], "filter", 0.1)[m.index]
        for n, m in group.producers.items()
    )
    expected = cluster_probability(combined, torch.ones(32, dtype=torch.bool))
    for name, members in group.producers.items():
        assert torch.allclose(probabilities[name][members.index], expected[members.root])
    private = "blocks.3.conv1"  # not in a residual group: unchanged
    assert torch.equal(probabilities[private], plain[private])


@pytest.mark.parametrize("find", [coupled_channels, channel_groups])
def test_chains_synthesize_bit_identically_with_or_without_groups(find) -> None:
    torch.manual_seed(0)
    model = LeNet5()
    shape = (1, 28, 28)
    assert not coupled_channels(model, shape)
    groups = find(model, shape)
    masks = full_masks(model)
    genome = encode(_weights(model), masks)
    env = Environment(0.4, cluster_factor=0.6)

    def same(a: Masks, b: Masks) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)

    for kind in ("kernel", "filter"):
        clusters = encode_clusters(_weights(model), masks, kind, 0.1)
        assert same(encode_clusters(_weights(model), masks, kind, 0.1, groups=groups), clusters)
        grouped, _ = synthesize_clustered(genome, clusters, kind, env, 7, {"fc2"}, groups=groups)
        plain, _ = synthesize_clustered(genome, clusters, kind, env, 7, {"fc2"})
        assert same(grouped, plain)
        assert same(keep_minimum(grouped, genome, "fc2", groups), keep_minimum(plain, genome, "fc2"))
    grouped, _ = synthesize_synapses(genome, env, 7, groups=groups)
    plain, _ = synthesize_synapses(genome, env, 7)
    assert same(grouped, plain)


def test_graph_liveness_equals_chain_liveness_on_lenet5() -> None:
    torch.manual_seed(0)
    model = LeNet5()
    g = torch.Generator().manual_seed(0)
    masks = {n: torch.rand(m.shape, generator=g) < 0.3 for n, m in full_masks(model).items()}
    masks["conv2"][:, :, :, :] &= torch.rand(50, 1, 1, 1, generator=g) < 0.5  # whole filters dead
    masks["fc1"][:, : 16 * 10] = False  # ten conv2 channels read by nobody
    chain = layer_units(model, masks)
    graph = layer_units(model, masks, (1, 28, 28))
    for a, b in zip(chain, graph, strict=True):
        assert a.name == b.name and torch.equal(a.inputs, b.inputs) and torch.equal(a.outputs, b.outputs)


def test_residual_liveness_needs_every_producer_dead() -> None:
    model = ResNet56(width=0.5)
    masks = full_masks(model)
    masks["conv1"][3] = False  # the stem's channel 3 dies, the blocks still write it
    masks["blocks.0.conv1"][5] = False  # a private channel dies
    units = {u.name: u for u in layer_units(model, masks)}
    assert not units["conv1"].outputs[3] and units["blocks.0.conv2"].outputs[3]
    assert units["blocks.1.conv1"].inputs[3]  # the residual channel 3 is still read alive
    assert not units["blocks.0.conv2"].inputs[5]
    for name in ["conv1"] + [f"blocks.{k}.conv2" for k in range(9)]:
        masks[name][3] = False
    units = {u.name: u for u in layer_units(model, masks)}
    assert not units["blocks.4.conv1"].inputs[3]


def test_dead_filter_takes_its_batch_norm_along() -> None:
    torch.manual_seed(0)
    model = ResNet56(width=0.5)
    _randomise_norms(model, 3)
    masks = full_masks(model)
    masks["blocks.2.conv1"][[0, 4]] = False
    apply_masks(model, masks)
    bn = model.blocks[2].bn1
    assert (bn.weight[[0, 4]] == 0).all() and (bn.bias[[0, 4]] == 0).all() and (bn.weight[1:4] != 0).all()


def test_graph_analysis_leaves_the_model_as_it_found_it() -> None:
    """Tracing under no_grad (apply_masks) still works; train mode and BN statistics are untouched."""
    model = ResNet56(width=0.25)
    _randomise_norms(model, 4)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    masks = full_masks(model)
    masks["blocks.1.conv1"][2] = False
    with torch.no_grad():
        apply_masks(model, masks)
    assert model.training and all(m.training for m in model.modules())
    assert model.blocks[1].bn1.weight[2] == 0 and model.blocks[1].bn1.bias[2] == 0
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"blocks.1.conv1.weight", "blocks.1.bn1.weight", "blocks.1.bn1.bias"}


def test_the_graph_is_traced_on_the_models_own_device() -> None:
    """A model on another device (here PyTorch's shape-only ``meta``) is traced on an input made there."""
    model = LeNet5(1, 10, 28).to("meta")
    groups = groups_of_graph(dependency_graph(model, (1, 28, 28)), model)
    assert sorted(g.root for g in groups) == ["conv1", "conv2", "fc1", "fc2"]


class _Decoder(nn.Module):
    """Transposed convolutions (layers the project does not prune) root two groups of Torch-Pruning's graph:
    one that no prunable layer produces (``up2``'s outputs) and one that ``a`` produces with ``up``."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(1, 4, 3, padding=1)
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 3, 3, padding=1)
        self.up2 = nn.ConvTranspose2d(3, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.up2(self.b(torch.relu(self.up(x) + self.a(x)))), 1))


def test_groups_rooted_at_layers_the_project_does_not_prune_are_passed_over_and_the_rest_kept() -> None:
    groups = channel_groups(_Decoder(), (1, 8, 8))
    assert {"b", "fc"} <= {g.root for g in groups}  # the groups after a passed-over one are still read
    prunable = {name for name, _ in prunable_layers(_Decoder())}
    assert all(g.root in prunable and set(g.producers) <= prunable and set(g.readers) <= prunable for g in groups)


class _Normed(nn.Module):
    """One class, two norms of the same parameter shapes: the analysis is cached by structure, types included."""

    def __init__(self, norm: type[nn.Module]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.norm = nn.BatchNorm2d(4) if norm is nn.BatchNorm2d else nn.GroupNorm(2, 4)
        self.fc = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.norm(self.conv(x)), 1))


def test_the_cached_analysis_tells_models_apart_by_their_layers_types() -> None:
    assert norm_layers(_Normed(nn.BatchNorm2d), (1, 8, 8)) == {"conv": "norm"}
    assert norm_layers(_Normed(nn.GroupNorm), (1, 8, 8)) == {}  # a group norm is no batch norm to fold


def test_the_cached_analysis_tells_apart_classes_by_module_and_name() -> None:
    """Same layers and shapes, other wiring: a residual add couples conv1 and conv2, a chain does not; a class of
    the same name in another module, or of another name in the same module, is another structure."""

    def net(module: str, name: str, residual: bool) -> nn.Module:
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv1(x)
            return self.fc(torch.flatten(self.conv2(y) + y if residual else self.conv2(y), 1))

        def init(self) -> None:
            nn.Module.__init__(self)
            self.conv1, self.conv2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 6 * 6, 3)

        cls = type(name, (nn.Module,), {"__init__": init, "forward": forward, "__module__": module})
        return cls()

    assert len(coupled_channels(net("first.nets", "Net", residual=False), (1, 6, 6))) == 0
    for module, name in [("second.nets", "Net"), ("first.nets", "Other")]:
        coupled = coupled_channels(net(module, name, residual=True), (1, 6, 6))
        assert [sorted(g.producers) for g in coupled] == [["conv1", "conv2"]], (module, name)


def test_the_analysis_cache_keeps_the_most_recent_structures_up_to_its_size(monkeypatch) -> None:
    from evosynth.nets import coupling

    monkeypatch.setattr(coupling, "_CACHE", {})
    widths = range(1, coupling._CACHE_SIZE + 4)
    for width in widths:  # one new structure each, as compaction meets one per generation
        model = nn.Sequential(nn.Conv2d(1, width, 3), nn.Flatten(), nn.Linear(width * 4, 2))
        assert [g.root for g in channel_groups(model, (1, 4, 4))] == ["2", "0"]
    held = [next(shape for name, _, shape in key[3] if name == "0") for key in coupling._CACHE]  # conv weights
    assert held == [(width, 1, 3, 3) for width in widths[3:]]


@pytest.mark.parametrize("name", list(TINY))
def test_prunable_layers_are_in_forward_order(name: str) -> None:
    build, shape, _ = TINY[name]
    model = build()
    called: list[str] = []
    hooks = [
        layer.register_forward_hook(lambda *_, name=layer_name: called.append(name))
        for layer_name, layer in prunable_layers(model)
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for hook in hooks:
        hook.remove()
    assert called == [layer_name for layer_name, _ in prunable_layers(model)]


def test_keep_minimum_revives_a_class_synapse_that_reads_a_living_channel() -> None:
    torch.manual_seed(0)
    model = ResNet56(width=0.25)
    shape = (3, 32, 32)
    groups = channel_groups(model, shape)
    stream = next(g for g in groups if g.coupled and "fc" in g.readers)
    with torch.no_grad():
        model.fc.weight[3, 0] = 10.0  # the class's strongest synapse reads residual channel 0
    genome = encode(_weights(model), full_masks(model))  # the parent
    masks = full_masks(model)  # the offspring drawn from it
    for name, members in stream.producers.items():
        masks[name][members.index[members.root == 0]] = False  # channel 0 dies in every producer
    masks["fc"][3] = False
    kept = keep_minimum(masks, genome, "fc", groups)
    assert int(kept["fc"][3].sum()) == 1 and not kept["fc"][3, 0]
    assert not kept["fc"][:, 0].any()  # nobody reads the dead channel
    _assert_shared_fate(model, shape, kept)


@pytest.mark.parametrize("channels, side", [(1, 28), (1, 32), (3, 32)])
def test_cifar10_quick_has_the_sexual_papers_lenet5_counts(channels: int, side: int) -> None:
    """Sexual paper §3: 143,136 synapses / 7,200 kernels (1 channel), 144,736 / 7,264 (3 channels).

    The classifier's 64·10 synapses are not in the paper's count; ip1's 64×64 kernels of 4×4 are.
    """
    from evosynth.nets.architectures.cifar10_quick import PAPER_COUNTS
    from evosynth.nets.masks import living_kernels, total_synapses

    model = build_model("cifar10_quick", (channels, side, side), 10)
    masks = full_masks(model)
    assert total_synapses(masks) - 64 * 10 == PAPER_COUNTS[channels][0]
    assert living_kernels(masks) == PAPER_COUNTS[channels][1]
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] == [32, 32, 64, 64]
    assert model.ip1.kernel_size == (4, 4)  # Caffe's ip1 over the 64×4×4 map
    lenet = full_masks(build_model("lenet5", (channels, side, side), 10))
    assert (total_synapses(lenet), living_kernels(lenet)) != PAPER_COUNTS[channels]  # LeNet5-Caffe is not it
    assert model(torch.zeros(2, channels, side, side)).shape == (2, 10)
