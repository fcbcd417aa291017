"""Values the schema let through: the schema is the whole contract, checked on params generated from it.

Params files are drawn from params.schema.json (names of the other sections
drawn from the generated keys so that cross-references can hold), and some
get one leaf replaced by a value YAML allows and the schema alone once let
through (NaN, infinity, 2.0 for an integer, true, a number as a name, a name
with a final newline). Whatever ``evosynth check`` accepts must render into
dvc.yaml files that DVC reads, and give Snakemake the same DAG in a dry run;
whatever it refuses must be refused in one line.
"""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import hypothesis
import pytest
import yaml
from conftest import BIN, ROOT, make_project, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evosynth.errors import ParamsError
from evosynth.pipeline.params import SCHEMA, validate_params
from evosynth.pipeline.paramsfile import read_params_file
from evosynth.pipeline.plan import build_plan
from evosynth.tasks.kinds import FIXED_WIDTH_ARCHITECTURES

sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
from render_dvc import render

#: Names the layout already uses for something (folders under pipelines/ and reports/, stage words).
LOADED_NAMES = ["code", "data", "methods", "papers", "index", "all", "gen0", "m1", "results", "reports", "train"]
NAMES = st.one_of(st.sampled_from(LOADED_NAMES), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True))
#: Values YAML writes easily that a step cannot run with, whatever their key.
NASTY = st.sampled_from([math.nan, math.inf, -math.inf, 2.0, 1.0, 0.5, True, False, None, 2**70, -1, 0, "", "x\n",
                         "1", [], {}, 1e308, -0.0])
#: Small bounds where the schema allows large plans (the test keeps to a few stages).
CAPS = {"generations": 3, "size": 3, "ancestor_epochs": 3, "epochs": 3, "repeats": 6, "warmup": 2}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


def from_schema(node: dict[str, Any], key: str = "") -> st.SearchStrategy:
    """Values the schema node describes (numbers and sizes kept small)."""
    node = _resolve(node)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kinds = node.get("type", "object")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options = []
    for kind in kinds:
        if kind == "null":
            options.append(st.none())
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "integer":
            lo = node.get("minimum", 0)
            options.append(st.integers(lo, min(node.get("maximum", lo + 1000), lo + CAPS.get(key, 1000))))
        elif kind == "number":
            lo, hi = node.get("minimum", node.get("exclusiveMinimum", 0)), node.get("maximum", node.get("exclusiveMaximum", 10))
            options.append(st.floats(lo, hi, exclude_min="exclusiveMinimum" in node,
                                     exclude_max="exclusiveMaximum" in node, allow_nan=False))
        elif kind == "string":
            options.append(NAMES)
        elif kind == "array":
            low = node.get("minItems", 0)
            options.append(st.lists(from_schema(node["items"]), min_size=low, max_size=max(low, min(2, node.get("maxItems", 2)))))
        elif kind == "object":
            props = node.get("properties", {})
            required = {k: from_schema(v, k) for k, v in props.items() if k in node.get("required", [])}
            optional = {k: from_schema(v, k) for k, v in props.items() if k not in node.get("required", [])}
            options.append(st.fixed_dictionaries(required, optional=optional))
    return st.one_of(options)


DEFS = SCHEMA["$defs"]


@st.composite
def params_files(draw: st.DrawFn, npz: str) -> dict[str, Any]:
    """A params document from the schema whose references mostly point at generated names."""
    datasets = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=2, unique=True)):
        spec = draw(from_schema(DEFS["dataset"]))
        spec["source"] = draw(st.sampled_from(["digits", "digits", "npz", spec["source"]]))
        spec.pop("root", None)
        if spec["source"] == "npz":
            spec["root"] = npz
        for key in ("val_fraction", "val_list"):
            if spec["source"] != "kitti" or draw(st.booleans()):
                spec.pop(key, None)
        datasets[name] = spec
    experiments = {}
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    for name in names:
        spec = draw(from_schema(DEFS["experiment"]))
        spec["dataset"] = draw(st.sampled_from(sorted(datasets)))
        spec["architecture"] = draw(st.sampled_from(["lenet5", "lenet5", spec["architecture"]]))
        if spec["architecture"] in FIXED_WIDTH_ARCHITECTURES:  # their papers' widths only (a refusal: test_paper_engines)
            spec.pop("width", None)
        spec.pop("ancestor", None)
        spec.pop("seeds", None)  # seed families: tests/test_evidence.py
        if spec["method"] == "sexual":
            spec["population"] = {**spec.get("population", {}), "size": draw(st.integers(2, 3))}
        else:
            spec.get("population", {}).pop("size", None)
        experiments[name] = spec
    if len(names) > 1 and draw(st.booleans()):  # the second starts from the first one's ancestor
        first, second = experiments[names[0]], experiments[names[1]]
        shared = ("dataset", "architecture", "width", "seed", "train", "data")
        for k in shared:
            second.pop(k, None)
        second.update({k: copy.deepcopy(first[k]) for k in shared if k in first}, ancestor=names[0])
    params: dict[str, Any] = {"datasets": datasets, "experiments": experiments}
    for name in draw(st.lists(NAMES.filter(lambda n: n not in experiments), max_size=1, unique=True)):
        params["baselines"] = {name: {"follow": draw(st.sampled_from(names)),
                                      "method": draw(st.sampled_from(["magnitude", "l1_filter"]))}}
    if draw(st.booleans()):
        params["comparisons"] = {draw(NAMES): {
            "treatment": draw(st.sampled_from(names)), "control": draw(st.sampled_from(names)),
            "metric": draw(from_schema(DEFS["comparison"]["properties"]["metric"])), "claim": "a claim"}}
    if draw(st.booleans()):
        params["runtime"] = {"experiments": draw(st.lists(st.sampled_from(names), max_size=1, unique=True)),
                             "repeats": 5, "warmup": 0}
    if draw(st.booleans()):  # the capacity probe, against one of the experiments
        params["probe"] = {**draw(from_schema(DEFS["probe"])), "reference": draw(st.sampled_from(names))}
    if draw(st.booleans()):
        params = _mutate(params, draw)
    return params


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in [*_leaves(v, (*path, k)), (*path, k)]]
    return []


def _mutate(params: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """One value or one key replaced by something YAML writes easily."""
    params = copy.deepcopy(params)
    path = draw(st.sampled_from(_leaves(params)))
    parent = params
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()):
        parent[path[-1]] = draw(NASTY)
    else:  # rename the key
        key = draw(NASTY.filter(lambda v: isinstance(v, (str, int, float, bool)) or v is None))
        parent[key] = parent.pop(path[-1])
    return params


def _check(raw: Any) -> dict[str, Any] | None:
    """``evosynth check`` on ``raw``: the params, or None after asserting a one-line refusal."""
    try:
        return validate_params(copy.deepcopy(raw), check_files=True, source="params.yaml")
    except ParamsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("params.yaml: "), str(exc)
        hypothesis.event("refused by check")
        return None


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("npz") / "mine.npz"
    path.write_bytes(b"checked for existence only")
    return str(path)


SETTINGS = {"deadline": None, "database": None, "derandomize": True,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                      HealthCheck.function_scoped_fixture]}


@settings(max_examples=100, **SETTINGS)
@given(data=st.data())
def test_what_check_accepts_renders_and_what_it_refuses_is_one_line(npz, tmp_path, data):
    """Many documents, in process: check, the file round trip, the plan and every dvc.yaml."""
    raw = data.draw(params_files(npz))
    text = yaml.safe_dump(raw, sort_keys=False)
    path = tmp_path / "params.yaml"
    path.write_text(text)
    try:
        read = read_params_file(path)
    except ParamsError as exc:  # e.g. a mutated key that equals another one
        assert "\n" not in str(exc)
        return
    params = _check(read)
    if params is None:
        return
    hypothesis.event("accepted by check")
    steps = build_plan(params)
    assert len({s.name for s in steps}) == len(steps)
    outs = [o for s in steps for o in s.outs]
    assert len(set(outs)) == len(outs), "two steps write one file"
    for name, document in render(params, read).items():
        assert isinstance(yaml.safe_load(document), dict), name  # an engine-readable mapping (maybe empty)


@settings(max_examples=3, **SETTINGS)
@given(data=st.data())
def test_the_engines_run_what_check_accepts(npz, tmp_path_factory, data):
    """A few accepted documents through the real renderer, DVC's reader and `snakemake -n`."""
    from test_workflow import dvc_dag, snakemake_dag

    raw = data.draw(params_files(npz).filter(lambda p: _check(p) is not None))
    project = make_project(tmp_path_factory.mktemp("prop") / "p", raw, git=False)
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project)
    default = {s.cmd for s in build_plan(validate_params(raw)) if s.default}
    assert snakemake_dag(project) == {job for job in dvc if job[1] in default}
    run([str(BIN / "dvc"), "status"], cwd=project)  # DVC reads params.yaml's values (its own YAML parser) too
