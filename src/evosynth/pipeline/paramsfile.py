"""Read ``params.yaml`` as every engine will: bounded, strict YAML, refused in one line.

The three readers of the file disagree where YAML leaves room: for a key
written twice evosynth and Snakemake would keep the last value while DVC
refuses the file, so a duplicate key is an error here too. The file is
parsed with libyaml (``yaml.CSafeLoader``) when PyYAML has it, and bounded
in size, in nesting (deep nesting crashes the C composer) and in what
anchors and aliases expand to, so a careless
or hostile file costs milliseconds, not minutes and gigabytes (and
``json.dumps`` of its params into every provenance record stays small).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evosynth.errors import ParamsError

#: Largest params file read: the committed ones are about 15 kB; even with libyaml, PyYAML's
#: constructor takes about 1 s per 256 kB (and every step reads the file).
MAX_BYTES = 256 * 1024
#: Most values (mappings, lists and scalars, counted as often as aliases repeat them) a params file may hold.
MAX_VALUES = 100_000
#: Deepest nesting of mappings and lists (the schema needs 5 levels).
MAX_DEPTH = 32
#: The libyaml loader where PyYAML was built with it (the pure-Python one is 10-50 times slower).
BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(f"line {line}: duplicate key {key!r} (first at line {first});"
                         " allowed: each key once (DVC refuses the file, Snakemake would take the last value)")


class StrictLoader(BASE_LOADER):  # type: ignore[misc, valid-type]
    """A safe loader that refuses a key written twice in one mapping (merge keys ``<<`` aside)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise _DuplicateKey(key, line, seen[key])
                    seen[key] = line
                except TypeError:  # an unhashable key: the base class reports it
                    continue
        return super().construct_mapping(node, deep=deep)


def read_params_file(path: str | Path) -> Any:
    """The YAML document of ``path``, as written (no defaults, not validated)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read the params file ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        size = path.stat().st_size
        raise ParamsError(f"{path}: {size / 1024:,.0f} kB is too large for a params file;"
                          f" allowed: at most {MAX_BYTES // 1024} kB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParamsError(f"{path}: not UTF-8 text at line {line} (byte {exc.start}); allowed: UTF-8") from None
    try:
        _check_depth(path, text)
        raw = yaml.load(text, Loader=StrictLoader)  # StrictLoader is a safe loader
        values = _count_values(raw)
    except _DuplicateKey as exc:
        raise ParamsError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ParamsError(f"{path}: nested too deeply; allowed: at most {MAX_DEPTH} levels") from None
    if values > MAX_VALUES:
        raise ParamsError(f"{path}: holds more than {MAX_VALUES:,} keys and values (aliases expanded);"
                          f" allowed: at most {MAX_VALUES:,}")
    return raw


def _check_depth(path: Path, text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` from the parser's events, before anything recurses.

    libyaml's parser is a state machine, but the composer that builds nodes from its events
    recurses (in C, with the C loader): 30,000 nested ``[`` in a 60 kB file overflow its stack.
    """
    depth = 0
    for event in yaml.parse(text, Loader=BASE_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ParamsError(f"{path}: nested more than {MAX_DEPTH} levels deep at line"
                                  f" {event.start_mark.line + 1}; allowed: at most {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _count_values(value: Any) -> int:
    """How many values ``value`` holds with every alias expanded (shared nodes counted once per use)."""
    memo: dict[int, int] = {}

    def count(node: Any) -> int:
        if id(node) in memo:
            return memo[id(node)]
        if isinstance(node, dict):
            total = 1 + sum(count(k) + count(v) for k, v in node.items())
        elif isinstance(node, list):
            total = 1 + sum(count(v) for v in node)
        else:
            return 1
        memo[id(node)] = total = min(total, MAX_VALUES + 1)
        return total

    return count(value)
