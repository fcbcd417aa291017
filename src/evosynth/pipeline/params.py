"""Load and validate ``params.yaml``: one schema for the CLI, DVC and Snakemake.

Validation happens before any compute and reports the first problem as one
line that names the key and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from evosynth.errors import ParamsError
from evosynth.pipeline.paramsfile import read_params_file
from evosynth.pipeline.curves import check_curves
from evosynth.pipeline.evidence import check_evidence
from evosynth.pipeline.pickset import check_picks
from evosynth.pipeline.probe import check_probe
from evosynth.pipeline.seeds import chain_generations, expand_baselines, expand_seeds  # noqa: F401 (re-exported)
from evosynth.tasks.kinds import (
    ARCHITECTURE_TASKS,
    FIXED_WIDTH_ARCHITECTURES,
    KITTI_KEYS,
    TEST_ONLY_SOURCES,
    task_of,
)

SCHEMA: dict[str, Any] = json.loads(
    resources.files("evosynth.pipeline").joinpath("params.schema.json").read_text()
)
SCHEMA_PATH = Path(str(resources.files("evosynth.pipeline").joinpath("params.schema.json")))


def load_params(path: str | Path, check_files: bool = False) -> dict[str, Any]:
    """Read (:func:`~evosynth.pipeline.paramsfile.read_params_file`), validate and complete a params file."""
    return validate_params(read_params_file(path), check_files=check_files, source=str(Path(path)))


def _is_integer(checker: Any, value: Any) -> bool:
    """An integer as written: ``2.0`` is not one (the engines would render "gen2.0"), nor is ``true``."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(checker: Any, value: Any) -> bool:
    """A finite number: NaN passes every range test and then fails inside a step; infinity is no factor either."""
    return _is_integer(checker, value) or (isinstance(value, float) and math.isfinite(value))


#: JSON Schema with the types the steps need (the standard's integer includes 2.0, its number NaN).
VALIDATOR = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}
    ),
)


def validate_params(raw: Any, check_files: bool = False, source: str = "params") -> dict[str, Any]:
    """Validate ``raw`` against the schema and the cross-references; return it with defaults."""
    errors = sorted(
        VALIDATOR(SCHEMA).iter_errors(raw),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if errors:
        raise ParamsError(f"{source}: {_describe(errors[0])}")
    params = expand_baselines(expand_seeds(_with_defaults(SCHEMA, copy.deepcopy(raw)), source), source)
    for name, spec in params["datasets"].items():
        for key in KITTI_KEYS:
            if key in spec and spec["source"] != "kitti":
                raise ParamsError(f"{source}: datasets.{name}.{key}: only a kitti dataset has a validation split;"
                                  f" allowed for source {spec['source']}: no {key}")
    for name, exp in params["experiments"].items():
        if exp["dataset"] not in params["datasets"]:
            raise ParamsError(
                f"{source}: experiments.{name}.dataset: {exp['dataset']!r} is not a key of datasets;"
                f" allowed: {', '.join(sorted(params['datasets']))}"
            )
        size = exp["population"]["size"]
        if exp["method"] == "sexual" and size < 2:
            raise ParamsError(
                f"{source}: experiments.{name}.population.size: {size} is too small for sexual synthesis;"
                " allowed: 2 <= value"
            )
        if exp["method"] != "sexual" and size != 1:
            raise ParamsError(
                f"{source}: experiments.{name}.population.size: {size} needs method sexual;"
                f" allowed for method {exp['method']}: 1"
            )
        environment = exp["environment"]
        if environment["literal_scale"] != 1.0 and environment["mode"] != "literal":
            raise ParamsError(f"{source}: experiments.{name}.environment.literal_scale: applies to literal mode only;"
                              f" allowed for mode {environment['mode']}: 1 (budget mode calibrates its own scale)")
    for name, exp in params["experiments"].items():
        _check_task(params, name, exp, source)
        _check_additions(params, name, exp, source)
        _check_ancestor(params, name, exp, source)
    defaults = [name for name, exp in params["experiments"].items() if exp["default"]]
    for name, spec in params["comparisons"].items():
        for role in ("treatment", "control"):
            if spec[role] not in defaults:
                raise ParamsError(
                    f"{source}: comparisons.{name}.{role}: {spec[role]!r} is not an experiment of the default target;"
                    f" allowed: {', '.join(defaults)}"
                )
    for name, spec in params["baselines"].items():
        if name in params["experiments"]:
            raise ParamsError(f"{source}: baselines.{name}: the name is taken by an experiment; allowed: a new name")
        followed = params["experiments"].get(spec["follow"])
        if followed is None or followed["method"] == "sexual":
            allowed = [e for e, x in params["experiments"].items() if x["method"] != "sexual"]
            raise ParamsError(
                f"{source}: baselines.{name}.follow: {spec['follow']!r} is not an experiment with one network"
                f" per generation; allowed: {', '.join(allowed)}"
            )
    papers = params.get("papers")
    if papers:
        chains = [*defaults, *(b for b, x in params["baselines"].items() if x["follow"] in defaults)]
        named = [("table1", n) for n in papers["table1"]] + [("cluster_tables", n) for n in papers["cluster_tables"]]
        named += [("sweep", n) for n in papers["sweep"]] + [("baselines.against", n) for n in papers["baselines"]["against"]]
        named += [(f"sexual.{k}", v) for k, v in papers["sexual"].items()]
        named += [("baselines.evolved", papers["baselines"]["evolved"]), ("features", papers["features"])]
        for key, name in named:
            if name not in chains:
                raise ParamsError(f"{source}: papers.{key}: {name!r} is not a baseline or an experiment of the default target;"
                                  f" allowed: {', '.join(chains)}")
        if papers["runtime"] not in params["runtime"]["experiments"]:
            raise ParamsError(f"{source}: papers.runtime: {papers['runtime']!r} is not timed;"
                              f" allowed: {', '.join(params['runtime']['experiments']) or '(none: list it in runtime.experiments)'}")
    check_picks(params, source)
    for name in params["runtime"]["experiments"]:
        if name not in defaults:
            raise ParamsError(
                f"{source}: runtime.experiments: {name!r} is not an experiment of the default target;"
                f" allowed: {', '.join(defaults)}"
            )
        if params["experiments"][name]["method"] == "sexual":
            raise ParamsError(f"{source}: runtime.experiments: {name!r} has a population; allowed: one network per generation")
    check_evidence(params, source)
    check_probe(params, source)
    check_curves(params, source)
    if check_files:
        from evosynth.data.sources import check_source  # data imports torch; keep params light

        # data only experiments outside the default target use, and test-only sets (HKU-IS: EvoNet Table II),
        # are checked when they are prepared
        optional = {x["dataset"] for x in params["experiments"].values()} - {
            params["experiments"][e]["dataset"] for e in defaults
        }
        optional |= {name for name, spec in params["datasets"].items() if spec["source"] in TEST_ONLY_SOURCES}
        for name, spec in params["datasets"].items():
            try:
                problem = None if name in optional else check_source(spec)
            except OSError as exc:  # e.g. a file name longer than the file system allows
                problem = f"{spec.get('root', '(default root)')}: cannot be read ({exc.strerror})"
            if problem:
                raise ParamsError(f"{source}: datasets.{name}.root: {problem}")
    return params


def _check_task(params: dict[str, Any], name: str, exp: dict[str, Any], source: str) -> None:
    """The architecture must suit the dataset's task, and the dataset must have a training part."""
    data_source = params["datasets"][exp["dataset"]]["source"]
    task = task_of(data_source)
    wanted = ARCHITECTURE_TASKS.get(exp["architecture"], "classification")
    if wanted != task:
        allowed = [a for a in _architectures() if ARCHITECTURE_TASKS.get(a, "classification") == task]
        raise ParamsError(
            f"{source}: experiments.{name}.architecture: {exp['architecture']!r} is built for {wanted},"
            f" but dataset {exp['dataset']!r} ({data_source}) is a {task} set; allowed: {', '.join(allowed)}"
        )
    if exp.get("width", 1) != 1 and exp["architecture"] in FIXED_WIDTH_ARCHITECTURES:
        raise ParamsError(f"{source}: experiments.{name}.width: {exp['architecture']} has its paper's widths only;"
                          f" allowed: 1 (or no width) for {', '.join(FIXED_WIDTH_ARCHITECTURES)}")
    for key in exp["test_on"]:
        other = params["datasets"].get(key)
        if other is None or key == exp["dataset"] or task_of(other["source"]) != task:
            allowed = [d for d, x in params["datasets"].items() if d != exp["dataset"] and task_of(x["source"]) == task]
            raise ParamsError(f"{source}: experiments.{name}.test_on: {key!r} is not another {task} dataset;"
                              f" allowed: {', '.join(allowed) or '(none)'}")
    if data_source in TEST_ONLY_SOURCES:
        raise ParamsError(
            f"{source}: experiments.{name}.dataset: {exp['dataset']!r} ({data_source}) has no training images"
            " (EvoNet tests on all of HKU-IS); allowed: an msra_b dataset, then evaluate on it"
        )


def _check_additions(params: dict[str, Any], name: str, exp: dict[str, Any], source: str) -> None:
    """The additions beyond the papers (docs/method.md §13) where they apply."""
    train = exp["train"]
    if train["rewind"] and "constant" in (train["schedule"], train.get("offspring_schedule")):
        raise ParamsError(f"{source}: experiments.{name}.train.rewind: a constant learning rate has nothing to rewind;"
                          " allowed: schedule (and offspring_schedule) cosine, or rewind false")
    if train["distill"]["alpha"] > 0:
        task = task_of(params["datasets"][exp["dataset"]]["source"])
        if exp["method"] == "sexual" or task != "classification":
            raise ParamsError(f"{source}: experiments.{name}.train.distill.alpha: distillation needs one parent per"
                              f" offspring and class outputs (here method {exp['method']}, task {task});"
                              " allowed: 0, or method evonet or cluster on a classification set")


def _architectures() -> list[str]:
    return SCHEMA["$defs"]["experiment"]["properties"]["architecture"]["enum"]


#: What an experiment's ancestor (generation 0) depends on: equal for experiments sharing one.
ANCESTOR_KEYS = ("dataset", "architecture", "width", "seed", "train", "data")
#: Training keys that only offspring read: experiments sharing an ancestor may differ in them.
OFFSPRING_TRAIN_KEYS = ("distill", "rewind", "offspring_schedule", "epochs")  # the ancestor trains ancestor_epochs


def _check_ancestor(params: dict[str, Any], name: str, exp: dict[str, Any], source: str) -> None:
    """An experiment may start from another's ancestor only if that ancestor is the one it would train."""
    owner = exp.get("ancestor")
    if owner is None:
        return
    key = f"{source}: experiments.{name}.ancestor"
    owners = [e for e, x in params["experiments"].items() if "ancestor" not in x and e != name]
    if owner not in owners:
        raise ParamsError(f"{key}: {owner!r} is not an experiment that trains its own ancestor;"
                          f" allowed: {', '.join(owners) or '(none)'}")
    for field in ANCESTOR_KEYS:
        given = [x.get(field, 1) if field == "width" else x[field] for x in (exp, params["experiments"][owner])]
        mine, theirs = given  # width: absent is the paper's, 1
        if field == "train":
            mine, theirs = ({k: v for k, v in t.items() if k not in OFFSPRING_TRAIN_KEYS} for t in (mine, theirs))
        if mine != theirs:
            raise ParamsError(f"{key}: {owner!r} trains its ancestor with another {field}"
                              f" ({given[1]!r}, here {given[0]!r}); allowed: equal {field}")
    if exp["default"] and not params["experiments"][owner]["default"]:
        raise ParamsError(f"{key}: {owner!r} is not in the default target; allowed: an experiment with default: true")


def training_spec(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The experiment whose data, training and seed a chain uses: itself, or the one a baseline follows."""
    if name in params["baselines"]:
        return params["experiments"][params["baselines"][name]["follow"]]
    return params["experiments"][name]


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]] if ref else node


def _allowed_range(schema: dict[str, Any]) -> str:
    lo = (
        f"{schema['exclusiveMinimum']} < value"
        if "exclusiveMinimum" in schema
        else f"{schema['minimum']} <= value" if "minimum" in schema else "value"
    )
    if "exclusiveMaximum" in schema:
        return f"{lo} < {schema['exclusiveMaximum']}"
    if "maximum" in schema:
        return f"{lo} <= {schema['maximum']}"
    return lo


def _describe(error: jsonschema.ValidationError) -> str:
    key, schema, value = _key(error.absolute_path), error.schema, error.instance
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        unknown = min(set(value) - set(known), key=repr)
        hint = difflib.get_close_matches(unknown, known, n=1) if isinstance(unknown, str) else []
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"{key}: unknown key {unknown!r}{did_you_mean}; allowed: {', '.join(known)}"
    if error.validator == "required":
        missing = [k for k in schema["required"] if k not in value][0]
        return f"{key}: missing key {missing!r}"
    if error.validator == "enum":
        return f"{key}: {value!r} is not allowed; allowed: {', '.join(map(str, schema['enum']))}"
    if error.validator in ("type", "pattern", "maxLength") and "propertyNames" in error.schema_path:
        return (f"{key}: {value!r} is not a valid name; allowed: letters, digits and _, starting with a letter,"
                f" at most {SCHEMA['$defs']['name']['maxLength']} characters")
    if error.validator == "type" and isinstance(value, float) and not math.isfinite(value):
        return f"{key}: {value!r} is not a finite number; allowed: a finite number"
    if error.validator == "type":
        expected = schema["type"] if isinstance(schema["type"], str) else " or ".join(schema["type"])
        return f"{key}: expected {expected}, got {type(value).__name__} {value!r}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{key}: {value!r} is out of range; allowed: {_allowed_range(schema)}"
    if error.validator == "pattern" and error.schema == SCHEMA["$defs"]["path"]:
        return f"{key}: {value!r} holds a control character; allowed: a path without control characters"
    if error.validator == "maxLength":
        return f"{key}: {len(value)} characters are too many; allowed: at most {schema['maxLength']}"
    if error.validator == "minProperties":
        return f"{key}: must name at least one entry"
    return f"{key}: {error.message}"


def _with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Fill the schema's ``default`` values into ``value`` (recursively)."""
    schema = _resolve(schema)
    if not isinstance(value, dict):
        return value
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve(sub)
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
        if name in value:
            value[name] = _with_defaults(sub, value[name])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name in set(value) - set(schema.get("properties", {})):
            value[name] = _with_defaults(extra, value[name])
    return value
