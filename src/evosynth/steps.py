"""The workflow's steps: read inputs, call the pure cores, write artifacts.

Each function reads its own section of params, takes paths as arguments and
writes its outputs atomically with a ``<step>.provenance.json`` beside them.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth import comparisons as comparisons_mod
from evosynth import report as report_mod
from evosynth.artifacts import (
    load_checkpoint,
    provenance,
    read_json,
    save_checkpoint,
    write_csv,
    write_json,
    write_text,
)
from evosynth.compaction import compact
from evosynth.coupling import coupled_channels
from evosynth.data import Split, load_prepared, prepare
from evosynth.encoding import encode, encode_clusters
from evosynth.errors import ArtifactError, DataError
from evosynth.masks import Masks, apply_masks, check_masks, full_masks, prunable_layers, synapse_macs
from evosynth.mating import MatingWeights, choose_parents, mate
from evosynth.metrics import generation_metrics
from evosynth.models import build_model
from evosynth.params import training_spec
from evosynth.plan import STEP_PARAMS, metrics_files, step_files
from evosynth.synthesis import Environment, keep_minimum, seed_for, synthesize_clustered, synthesize_synapses
from evosynth.tasks import load_task_data, task_for
from evosynth.training import TrainConfig, device, train

NETWORK_KEYS = ("architecture", "input_shape", "num_classes", "experiment")


def _step_params(exp: dict[str, Any], step: str) -> dict[str, Any]:
    return {key: exp[key] for key in STEP_PARAMS[step]}


def _finish(step: str, params: Any, started: float, out_dir: Path, files: list[str]) -> None:
    """Write the provenance of ``files[:-1]`` into ``files[-1]``."""
    outputs = [out_dir / f for f in files[:-1]]
    write_json(out_dir / files[-1], provenance(step, params, started, outputs))


def _stream(purpose: str, member: int | None) -> str:
    return purpose if member is None else f"{purpose}/m{member}"


def _load_data(exp: dict[str, Any], data_path: str | Path) -> Split:
    return load_prepared(data_path, exp["data"]["train_size"], exp["data"]["test_size"], exp["seed"])


def network_from(payload: dict[str, Any], source: str | Path) -> tuple[nn.Module, Masks]:
    """Rebuild a network and its masks from a checkpoint payload (model, offspring or genome)."""
    model = build_model(payload["architecture"], tuple(payload["input_shape"]), payload["num_classes"])
    try:
        model.load_state_dict(payload["state_dict"])
        check_masks(model, payload["masks"])
    except (RuntimeError, ValueError) as exc:
        raise ArtifactError(f"{source}: checkpoint does not fit {payload['architecture']}: {exc}") from None
    return model, payload["masks"]


def load_network(path: str | Path, kind: str = "model") -> tuple[nn.Module, Masks, dict[str, Any]]:
    ckpt = load_checkpoint(path, kind)
    model, masks = network_from(ckpt, path)
    return model, masks, ckpt


def _network_payload(model: nn.Module, masks: Masks, like: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"state_dict": model.state_dict(), "masks": masks, **{k: like[k] for k in NETWORK_KEYS}, **extra}


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: layer.weight for name, layer in prunable_layers(model)}


def run_prepare(params: dict[str, Any], dataset: str, out_dir: Path) -> dict[str, Any]:
    started = time.time()
    spec = params["datasets"][dataset]
    files = step_files("prepare", dataset=dataset)
    card = prepare(spec, out_dir / files[0], out_dir / files[1])
    _finish("prepare", spec, started, out_dir, files)
    return card


def run_train(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    data_path: Path,
    out_dir: Path,
    init: Path | None = None,
    member: int | None = None,
) -> list[dict[str, Any]]:
    """Train an ancestor (``init`` None, generation 0) or an offspring, with stress when β < 1."""
    started = time.time()
    exp = training_spec(params, experiment)
    step = "stress_train" if init is None else "retrain"
    task = task_for(params, exp)
    data = load_task_data(task, exp, data_path)
    if init is None:
        torch.manual_seed(seed_for(exp["seed"], 0, _stream("init", member)))
        shape = tuple(data.x_train.shape[1:])
        try:
            model = build_model(exp["architecture"], shape, data.num_classes)
        except ValueError as exc:
            raise DataError(f"{data_path}: {exc} (set image_size of dataset {exp['dataset']!r})") from None
        masks = full_masks(model)
        like = {"architecture": exp["architecture"], "input_shape": list(shape),
                "num_classes": data.num_classes, "experiment": experiment}
        epochs = exp["train"]["ancestor_epochs"]
    else:
        model, masks, like = load_network(init, "offspring")
        epochs = exp["train"]["epochs"]
    config = TrainConfig(
        epochs=epochs, **{k: v for k, v in exp["train"].items() if k not in ("epochs", "ancestor_epochs")}
    )
    label = f"{experiment} gen{generation}" + (f" m{member}" if member is not None else "") + f" {step}"
    apply_masks(model, masks)
    small = compact(model, masks, tuple(like["input_shape"]))  # train the physically smaller network
    seed = seed_for(exp["seed"], generation, _stream("train", member))
    history = train(small.model, small.masks, data, config, seed, label, task.objective(data), device())
    small.expand_into(model)
    apply_masks(model, masks)
    files = step_files(step)
    save_checkpoint(out_dir / files[0], "model", _network_payload(model, masks, like, generation=generation))
    write_json(out_dir / files[1], {"epochs": history})
    _finish(step, _step_params(exp, step), started, out_dir, files)
    return history


def run_encode(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    parents: list[Path],
    out_dir: Path,
    parent_metrics: list[Path] | None = None,
    member: int | None = None,
) -> dict[str, Any]:
    """Write the genome of generation ``generation − 1`` for one offspring.

    EvoNet: P(s|w) of the parent (eq. 1). Cluster-driven: P(c) and P(s|c) of the
    parent (cluster paper eq. 2–5). Sexual: two parents chosen from the pool
    and mated (sexual paper eq. 4–5), then cluster-encoded. The genome also
    holds the weights the offspring inherits (the parent's or the mated ones).
    """
    started = time.time()
    exp = params["experiments"][experiment]
    method, coding = exp["method"], exp["encoding"]
    chosen: list[int] = [0]
    if method == "sexual":
        pop = exp["population"]
        if not parents or len(parent_metrics or []) != len(parents):
            raise ArtifactError("sexual synthesis needs the metrics.json of every --parent (--parent-metrics)")
        accuracies = [float(read_json(p)["accuracy"]) for p in parent_metrics]
        seed = seed_for(exp["seed"], generation, _stream("mate", member))
        chosen = list(choose_parents(accuracies, pop["parents"], pop["temperature"], seed))
    networks = [load_network(parents[i]) for i in chosen]
    model, masks, like = networks[0]
    strengths = None
    if method == "sexual":
        (_, masks_b, ckpt_b), m = networks[1], exp["mating"]
        mated = mate(_weights(model), masks, _weights(networks[1][0]), masks_b,
                     MatingWeights(**m), coding["clusters"], coding["truncation"])
        state_b = ckpt_b["state_dict"]
        model.load_state_dict(
            {k: m["alpha_s"] * v + m["beta_s"] * state_b[k] for k, v in model.state_dict().items()}
        )
        with torch.no_grad():
            for name, layer in prunable_layers(model):
                layer.weight.copy_(mated.weights[name])
        masks, strengths = mated.masks, mated.cluster_strengths
        sizes = {"parent_synapses": mated.parent_synapses, "parent_clusters": mated.parent_clusters}
    genome: dict[str, Any] = {"method": method, "parents": [str(parents[i]) for i in chosen],
                              "synapses": encode(_weights(model), masks)}
    if method == "sexual":
        genome.update(sizes)
    if method in ("cluster", "sexual"):
        groups = coupled_channels(model, tuple(like["input_shape"]))  # residual adds: one cluster per channel
        genome["clusters"] = encode_clusters(
            _weights(model), masks, coding["clusters"], coding["truncation"], strengths, groups
        )
        genome["cluster_kind"] = coding["clusters"]
    files = step_files("encode")
    save_checkpoint(out_dir / files[0], "genome", {**genome, **_network_payload(model, masks, like)})
    _finish("encode", _step_params(exp, "encode"), started, out_dir, files)
    return {"parents": genome["parents"]}


def run_synthesize(
    params: dict[str, Any], experiment: str, generation: int, genome_path: Path, out_dir: Path,
    member: int | None = None,
) -> dict[str, Any]:
    """Sample the offspring's synapses from the genome under the environmental factor models."""
    started = time.time()
    exp = params["experiments"][experiment]
    genome = load_checkpoint(genome_path, "genome")
    model, parent_masks = network_from(genome, genome_path)
    env = _parent_sized(Environment(**exp["environment"]), genome)
    seed = seed_for(exp["seed"], generation, _stream("synthesize", member))
    costs = synapse_macs(model, tuple(genome["input_shape"]))
    output_layer = prunable_layers(model)[-1][0]
    groups = coupled_channels(model, tuple(genome["input_shape"]))  # residual adds share a fate; chains: none
    if "clusters" in genome:
        masks, summary = synthesize_clustered(
            genome["synapses"], genome["clusters"], genome["cluster_kind"], env, seed, {output_layer}, costs,
            groups,
        )
    else:
        masks, summary = synthesize_synapses(genome["synapses"], env, seed, costs, groups)
    masks = keep_minimum(
        {n: m & parent_masks[n] for n, m in masks.items()}, genome["synapses"], output_layer, groups
    )
    compacted = compact(model, masks, tuple(genome["input_shape"]))
    masks = compacted.ancestor_masks(masks)  # synapses of removed filters and neurons are dead too
    summary["kept_strongest"] = compacted.kept_strongest
    if exp["init"] == "scratch":
        torch.manual_seed(seed_for(exp["seed"], generation, _stream("init", member)))
        model = build_model(genome["architecture"], tuple(genome["input_shape"]), genome["num_classes"])
    apply_masks(model, masks)
    parent_count = genome.get("parent_synapses", sum(int(m.sum()) for m in parent_masks.values()))
    summary.update(
        environment=exp["environment"],
        parents=genome["parents"],
        parent_synapses=parent_count,
        synapses=sum(int(m.sum()) for m in masks.values()),
        per_layer={n: {"parent": int(parent_masks[n].sum()), "kept": int(masks[n].sum())} for n in masks},
    )
    summary["expected_ratio"] = summary["expected_synapses"] / parent_count if parent_count else 0.0
    summary["realised_ratio"] = summary["synapses"] / parent_count if parent_count else 0.0
    files = step_files("synthesize")
    save_checkpoint(out_dir / files[0], "offspring", _network_payload(model, masks, genome, generation=generation))
    write_json(out_dir / files[1], summary)
    _finish("synthesize", _step_params(exp, "synthesize"), started, out_dir, files)
    return summary


def _parent_sized(env: Environment, genome: dict[str, Any]) -> Environment:
    """Budget factors relative to the parents' size, not to the union of two mated parents."""
    if env.mode != "budget" or "parent_synapses" not in genome:
        return env
    living = sum(int((p > 0).sum()) for p in genome["synapses"].values())
    clusters = sum(int((p > 0).sum()) for p in genome["clusters"].values())
    return replace(
        env,
        factor=env.factor * min(1.0, genome["parent_synapses"] / living),
        cluster_factor=env.cluster_factor * min(1.0, genome["parent_clusters"] / clusters),
    )


def run_evaluate(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    model_path: Path,
    data_path: Path,
    ancestor: Path,
    out_dir: Path,
    genome: Path | None = None,
    member: int | None = None,
    parent_model: Path | None = None,
) -> dict[str, Any]:
    """Metrics of one network; its parent is given by its genome, or (baselines) by the parent model.

    The task's scores come from ``data_path``: the experiment's own test part, or
    another prepared set of the same task (EvoNet Table II: HKU-IS).
    """
    started = time.time()
    exp = training_spec(params, experiment)
    task = task_for(params, exp)
    model, masks, _ = load_network(model_path)
    ancestor_masks = load_network(ancestor)[1]
    if genome is not None:
        record = load_checkpoint(genome, "genome")
        parent = record.get("parent_synapses", record["masks"])
    else:
        parent = load_network(parent_model)[1] if parent_model is not None else None
    data = load_task_data(task, exp, data_path)
    on = device()

    def scores(network: nn.Module) -> dict[str, Any]:
        return task.scores(network, data, on)

    metrics = {
        "generation": generation,
        **({"member": member} if member is not None else {}),
        **generation_metrics(model, masks, data, ancestor_masks, parent, scores),
    }
    if genome is not None:
        metrics["factor"] = exp["environment"]["factor"]
    files = step_files("evaluate")
    write_json(out_dir / files[0], metrics)
    _finish("evaluate", _step_params(exp, "evaluate"), started, out_dir, files)
    return metrics


def run_report(params: dict[str, Any], experiment: str, metrics: list[Path], out_dir: Path) -> None:
    started = time.time()
    rows = [read_json(path) for path in metrics]
    files = step_files("report")
    if experiment in params["baselines"]:
        spec = params["baselines"][experiment]
        title, used = f"{spec['method']} pruning following {spec['follow']} (baseline)", spec
    else:
        exp = params["experiments"][experiment]
        env = exp["environment"]
        title = (
            f"{exp['method']} on {exp['dataset']} ({exp['architecture']}), F = {env['factor']}"
            f" ({env['mode']} mode), init {exp['init']}"
        )
        used = _step_params(exp, "report")
    report_mod.generation_report(experiment, title, rows, *(out_dir / f for f in files[:-1]))
    _finish("report", used, started, out_dir, files)


def run_compare(params: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """The measured results note: every comparison of params.yaml, claim by claim."""
    started = time.time()
    comparisons = params["comparisons"]
    involved = {c[role] for c in comparisons.values() for role in ("treatment", "control")}
    metrics = {
        exp: [read_json(path) for path in metrics_files(exp, params["experiments"][exp])] for exp in involved
    }
    files = step_files("compare")
    results = comparisons_mod.comparison_report(
        comparisons, metrics, *(out_dir / f for f in files[:-1]),
        title="Measured results: each paper's claim against its control",
    )
    _finish("compare", {"comparisons": comparisons}, started, out_dir, files)
    return results


def run_export(params: dict[str, Any], experiment: str, generation: int, model_path: Path, out_dir: Path) -> None:
    """TorchScript and ONNX files of the compacted network, for devices without evosynth."""
    from evosynth.export import export_onnx, export_torchscript

    started = time.time()
    exp = params["experiments"][experiment]
    model, masks, ckpt = load_network(model_path)
    shape = tuple(ckpt["input_shape"])
    small = compact(model, masks, shape).model
    files = step_files("export")
    export_onnx(small, shape, out_dir / files[0])
    export_torchscript(small, shape, out_dir / files[1])
    _finish("export", _step_params(exp, "export"), started, out_dir, files)


def run_runtime(params: dict[str, Any], experiment: str, generation_dirs: list[Path], out_dir: Path) -> list[dict[str, Any]]:
    """Time every generation batch 1 with ONNX Runtime and PyTorch, 1 thread and all cores (Table 3)."""
    import os

    from evosynth import runtime

    started = time.time()
    settings = params["runtime"]
    generations = []
    for folder in generation_dirs:
        metrics = read_json(folder / "metrics.json")
        model, masks, ckpt = load_network(folder / "model.pt")
        shape = tuple(ckpt["input_shape"])
        small = compact(model, masks, shape).model
        row = {k: metrics[k] for k in ("generation", "accuracy", "macs", "architecture")}
        row["size_mb"] = (folder / "model.onnx").stat().st_size / 1e6
        for engine, threads in runtime.CONFIGS:
            n = threads or os.cpu_count() or 1
            key = runtime.config_key(engine, threads)
            if engine == "onnxruntime":
                row[key] = runtime.measure_onnx(folder / "model.onnx", 1, n, settings["repeats"], settings["warmup"])
            else:
                row[key] = runtime.measure_torch(small, shape, 1, n, settings["repeats"], settings["warmup"])
        generations.append(row)
        print(f"{experiment} gen{row['generation']}: ORT 1 thread {row['onnxruntime_1thread']['fps']:,.0f} FPS")
    rows = runtime.runtime_rows(generations)
    machine = runtime.host()
    files = step_files("runtime")
    write_text(out_dir / files[0], f"# {experiment}: measured runtime (StressedNets Table 3 layout)\n\n"
               + runtime.markdown(rows, machine))
    write_csv(out_dir / files[1], rows)
    runtime.plot_speedup(rows, out_dir / files[2])
    write_json(out_dir / files[3], {"host": machine, "generations": generations})
    _finish("runtime", {"runtime": settings}, started, out_dir, files)
    return rows


def run_prune(
    params: dict[str, Any], baseline: str, generation: int, parent: Path, target_metrics: Path, out_dir: Path
) -> dict[str, Any]:
    """A pruning baseline's offspring: the parent pruned to the followed run's synapse count."""
    from evosynth.baselines import l1_filter_prune, l1_keep_fraction, living_filters, magnitude_prune

    started = time.time()
    spec = params["baselines"][baseline]
    model, masks, like = load_network(parent)
    target = int(read_json(target_metrics)["synapses"])
    if spec["method"] == "magnitude":
        pruned = magnitude_prune(model, masks, keep=min(target, sum(int(m.sum()) for m in masks.values())))
    else:
        pruned = l1_filter_prune(model, masks, l1_keep_fraction(model, masks, target))
    compacted = compact(model, pruned, tuple(like["input_shape"]))
    pruned = compacted.ancestor_masks(pruned)
    apply_masks(model, pruned)
    summary = {
        "method": spec["method"],
        "target_synapses": target,
        "parent_synapses": sum(int(m.sum()) for m in masks.values()),
        "synapses": sum(int(m.sum()) for m in pruned.values()),
        "filters": living_filters(model, pruned),
    }
    files = step_files("prune")
    save_checkpoint(out_dir / files[0], "offspring", _network_payload(model, pruned, like, generation=generation))
    write_json(out_dir / files[1], summary)
    _finish("prune", spec, started, out_dir, files)
    return summary


def run_features(
    params: dict[str, Any], experiment: str, data_path: Path, generation_dirs: list[Path], out_dir: Path
) -> dict[str, Any]:
    """StressedNets Figure 7 and Table 4: t-SNE and 1-NN accuracy of last-hidden-layer features.

    The ancestor against the synthesized network (the last generation within
    the papers' tolerance): t-SNE of 100 test samples per class; per-class
    1-NN accuracy on the test set from 100 training samples per class; and the
    same with PCA of the ancestor's features cut to the synthesized width.
    """
    import numpy as np

    from evosynth import features as feat
    from evosynth import tables

    started = time.time()
    exp = params["experiments"][experiment]
    rows = [read_json(folder / "metrics.json") for folder in generation_dirs]
    pick = tables.synthesized_generation(rows, params["papers"]["tolerance"])["generation"]
    data = _load_data(exp, data_path)
    # 100 samples per class as in the paper, fewer if a (tiny) split has fewer
    smallest = int(min(np.bincount(data.y_train.numpy()).min(), np.bincount(data.y_test.numpy()).min()))
    per_class_samples = min(100, smallest)
    references = feat.class_balanced_indices(data.y_train.numpy(), per_class_samples, exp["seed"])
    shown = feat.class_balanced_indices(data.y_test.numpy(), per_class_samples, exp["seed"])
    panels, per_class, widths = {}, {}, {}
    ancestor_features = None

    def label_of(generation: int) -> str:
        return "ancestor (generation 0)" if generation == 0 else f"synthesized (generation {generation})"

    for generation in sorted({0, pick}):
        model, masks, ckpt = load_network(generation_dirs[generation] / "model.pt")
        small = compact(model, masks, tuple(ckpt["input_shape"])).model
        train_f = feat.last_hidden_features(small, data.x_train[references]).numpy()
        test_f = feat.last_hidden_features(small, data.x_test).numpy()
        label = label_of(generation)
        widths[label] = train_f.shape[1]
        panels[f"{label}, {train_f.shape[1]} features"] = (feat.tsne_embedding(test_f[shown], exp["seed"]),
                                                           data.y_test.numpy()[shown])
        per_class[label] = feat.nearest_neighbour_per_class_accuracy(
            train_f, data.y_train.numpy()[references], test_f, data.y_test.numpy())
        if generation == 0:
            ancestor_features = (train_f, test_f)
    # PCA can keep at most as many components as reference samples (fewer than 500 only on tiny data)
    width = min(widths[label_of(pick)], *ancestor_features[0].shape)
    pca_train, pca_test = feat.pca_features(*ancestor_features, width)
    per_class[f"PCA-{width} of the ancestor's features"] = feat.nearest_neighbour_per_class_accuracy(
        pca_train, data.y_train.numpy()[references], pca_test, data.y_test.numpy())
    files = step_files("features")
    feat.plot_tsne(panels, out_dir / files[0])
    counts = np.bincount(data.y_test.numpy(), minlength=data.num_classes).tolist()
    table = tables.stressednets_table4(per_class, counts, f"results/{experiment}")
    table.write(out_dir / files[1], out_dir / files[2])
    _finish("features", {"papers": params["papers"]}, started, out_dir, files)
    return {"synthesized": pick, "widths": widths, "per_class_samples": per_class_samples}


def run_papers(params: dict[str, Any], out_dir: Path) -> None:
    """Every paper table and figure of DESIGN.md §4, and reports/index.md."""
    from evosynth import papers as builders
    from evosynth.plan import chain_metrics

    started = time.time()
    cfg, tolerance = params["papers"], params["papers"]["tolerance"]
    folder = out_dir / "papers"

    def rows(name: str) -> list[dict[str, Any]]:
        return [read_json(path) for path in chain_metrics(name, params)]

    builders.table1({n: rows(n) for n in cfg["table1"]}, tolerance, folder,
                    {n: chain_metrics(n, params) for n in cfg["table1"]})
    builders.table2(folder)
    builders.table3(read_json(out_dir / cfg["runtime"] / "runtime.json"), rows(cfg["runtime"]), tolerance, folder)
    builders.cluster_tables({n: rows(n) for n in cfg["cluster_tables"]}, folder)
    sexual = cfg["sexual"]
    builders.sexual_figure(rows(sexual["asexual"]), rows(sexual["sexual"]), (sexual["asexual"], sexual["sexual"]), folder)
    builders.factor_sweep({n: rows(n) for n in cfg["sweep"]}, folder)
    evolved = cfg["baselines"]["evolved"]
    builders.baselines({n: rows(n) for n in [evolved, *cfg["baselines"]["against"]]}, evolved, tolerance, folder)
    entries = [
        ("papers/stressednets_table1.md", "StressedNets Table 1: the synthesized networks (measured) beside the literature (quoted)."),
        ("papers/stressednets_table2.md", "StressedNets Table 2 layout (AlexNet on CIFAR-10): quoted only; it needs CIFAR-10 and a GPU."),
        ("papers/stressednets_table3.md", f"StressedNets Table 3: runtime of {cfg['runtime']}'s ancestor and synthesized network, measured here."),
        (f"{cfg['runtime']}/runtime.md", "Every generation's size, MACs, FPS and measured speed-up (ONNX Runtime and PyTorch)."),
        (f"{cfg['runtime']}/runtime.png", "Measured speed-up against MAC reduction."),
        ("papers/cluster_tables.md", "Cluster paper Tables 1-6 layout: generation, A-E, C-E, accuracy."),
        ("papers/sexual_vs_asexual.png", "Sexual paper Figures 4-5: accuracy, synaptic and cluster efficiency, asexual vs sexual."),
        ("papers/factor_sweep.png", "StressedNets Figure 6: the environmental-factor sweep, stressed, five generations each."),
        ("papers/features_tsne.png", "StressedNets Figure 7: t-SNE of last-hidden-layer features, ancestor vs synthesized."),
        ("papers/stressednets_table4.md", "StressedNets Table 4: per-class 1-NN accuracy of those features, and of PCA of the ancestor's."),
        ("papers/baselines.md", f"{evolved} against magnitude and L1-filter pruning at matched synapse counts; who wins where."),
        ("papers/pareto.png", "Accuracy vs living synapses and vs living filters: evolution against the baselines."),
    ]
    if params["comparisons"]:
        entries += [("methods/comparisons.md", "Each paper's claim against its control, measured on Fashion-MNIST."),
                    ("methods/comparisons.png", "The comparisons, generation by generation.")]
    entries += [(f"{name}/generations.png", f"{name}: accuracy and efficiency by generation.")
                for name in [*params["experiments"], *params["baselines"]]]
    files = step_files("papers")
    record = provenance("papers", {"papers": cfg}, started, [])
    builders.index(entries, record, out_dir / files[-2])
    _finish("papers", {"papers": cfg}, started, out_dir, files)
