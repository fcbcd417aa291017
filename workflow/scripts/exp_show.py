"""The readable ``dvc exp show``: the params that differ and the headline metrics, one column per revision.

    python workflow/scripts/exp_show.py                  # the workspace, HEAD and HEAD's experiments
    python workflow/scripts/exp_show.py -n 3             # ... and those of the two commits before HEAD
    python workflow/scripts/exp_show.py main my-branch   # any revisions (as dvc exp show takes them)
    python workflow/scripts/exp_show.py --experiment quick   # also this experiment's metrics

``dvc exp show`` gives one column per params key, metric and dependency
(thousands here) and cuts the table at the terminal's width. This reads the
same data from DVC (``Repo.experiments.show``, what ``dvc exp show --json``
prints) and turns it on its side, at most ``--width`` (100) characters wide:
one row per ``params.yaml`` key whose value differs between the revisions
shown (the ``pipelines/*/params.json`` copies are derived from it and left
out), then the headline metrics of ``reports/<experiment>/summary.json`` for
every experiment whose params or metrics differ (with none, the first
experiment of ``params.yaml``, the default one). Revisions that do not fit the
width are named under the table.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The summary.json keys shown, in this order (reporting/summary.py writes them).
HEADLINE = ("accuracy", "pick", "pick_accuracy", "A-E", "C-E", "MAC_x", "speedup")
PARAMS = "params.yaml"
MISSING = "–"


@dataclass(frozen=True)
class Column:
    """One revision: its label, its params.yaml flattened to dotted keys, its metrics per file."""

    label: str
    params: dict[str, Any]
    metrics: dict[str, dict[str, Any]]


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _column(label: str, data: dict[str, Any] | None) -> Column:
    data = data or {}
    params = flatten(((data.get("params") or {}).get(PARAMS) or {}).get("data") or {})
    metrics = {path: flatten(result.get("data") or {}) for path, result in (data.get("metrics") or {}).items()}
    return Column(label, params, metrics)


def _short(rev: str) -> str:
    """A commit's first 7 hex digits; ``workspace`` and branch names as they are."""
    return rev[:7] if re.fullmatch(r"[0-9a-f]{40}", rev) else rev


def columns(states: list[dict[str, Any]]) -> list[Column]:
    """The revisions of ``dvc exp show --json`` (each baseline, then its experiments) as columns."""
    out = []
    for baseline in states:
        out.append(_column(baseline.get("name") or _short(baseline["rev"]), baseline.get("data")))
        for exp_range in baseline.get("experiments") or []:
            for exp in exp_range.get("revs", [])[:1]:  # the tip (DVC shows the same)
                out.append(_column(exp.get("name") or exp_range.get("name") or _short(exp["rev"]), exp.get("data")))
    return out


def _differ(values: list[Any]) -> bool:
    return any(v != values[0] for v in values[1:])


def _experiment_of(key: str) -> str | None:
    """``experiments.<name>.…`` or ``baselines.<name>.…`` names a chain; any other key none."""
    parts = key.split(".")
    return parts[1] if len(parts) > 2 and parts[0] in ("experiments", "baselines") else None


def summary_path(experiment: str) -> str:
    return f"reports/{experiment}/summary.json"


def chosen(cols: list[Column], changed: list[str], asked: list[str]) -> list[str]:
    """The experiments whose metrics are shown: asked for, named by a changed key, or with changed metrics."""
    names = list(asked)
    names += [n for n in (_experiment_of(k) for k in changed) if n]
    paths = sorted({p for c in cols for p in c.metrics if p.startswith("reports/") and p.endswith("/summary.json")})
    names += [p.split("/")[1] for p in paths if _differ([c.metrics.get(p) for c in cols])]
    if not names and cols and cols[0].params:  # nothing differs: the default (first) experiment
        names = [k.split(".")[1] for k in cols[0].params if k.startswith("experiments.")][:1]
    return list(dict.fromkeys(names))


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = MISSING
    elif isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def render(cols: list[Column], asked: list[str] = (), width: int = 100, cell: int = 11) -> str:
    """The table: changed params, then the headline metrics per experiment; at most ``width`` wide."""
    keys = sorted({k for c in cols for k in c.params})
    changed = [k for k in keys if _differ([c.params.get(k) for c in cols])]
    rows: list[tuple[str, list[Any]]] = [("params that differ", [])]
    rows += [(f"  {k}", [c.params.get(k) for c in cols]) for k in changed] or [("  (none)", [])]
    for experiment in chosen(cols, changed, list(asked)):
        path = summary_path(experiment)
        rows.append((f"{path}", []))
        present = [m for m in HEADLINE if any(m in c.metrics.get(path, {}) for c in cols)]
        rows += [(f"  {m}", [c.metrics.get(path, {}).get(m) for c in cols]) for m in present] or [("  (no metrics)", [])]
    label = min(max(len(r[0]) for r in rows), width - cell - 1)
    fit = max(1, (width - label) // (cell + 1))
    shown = cols[:fit]
    lines = [" " * label + "".join(f" {_cell(c.label, cell):>{cell}}" for c in shown)]
    for name, values in rows:
        name = name if len(name) <= label else "  …" + name[-(label - 3):]
        lines.append((f"{name:<{label}}" + "".join(f" {_cell(v, cell):>{cell}}" for v in values[:fit])).rstrip())
    if len(cols) > fit:
        rest = f"not shown ({len(cols) - fit}, too wide): " + ", ".join(c.label for c in cols[fit:])
        lines.append(rest if len(rest) <= width else rest[: width - 1] + "…")
    return "\n".join(lines)


def collect(root: Path, revs: list[str], num: int, all_commits: bool) -> list[Column]:
    """The revisions DVC's ``exp show`` would list, read in this process."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        states = repo.experiments.show(revs=revs or None, num=num, all_commits=all_commits)
    return columns([state.dumpd() for state in states])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="*", help="git revisions (default: HEAD), as dvc exp show takes them")
    parser.add_argument("-n", "--num", type=int, default=1, help="also the experiments of the N-1 commits before")
    parser.add_argument("-A", "--all-commits", action="store_true", help="every commit's experiments")
    parser.add_argument("--experiment", action="append", default=[], help="also show this experiment's metrics")
    parser.add_argument("--width", type=int, default=100, help="at most this many characters a line (default 100)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: .)")
    args = parser.parse_args(argv)
    if args.width < 40:
        parser.error(f"--width: {args.width} is too narrow; allowed: 40 or more")
    from dvc.exceptions import DvcException

    try:
        cols = collect(args.root, args.revs, args.num, args.all_commits)
    except DvcException as exc:  # not a repository, an unknown revision: one line
        print(f"exp_show: error: {exc}", file=sys.stderr)
        return 2
    known = {k.split(".")[1] for c in cols for k in c.params if _experiment_of(k)}
    unknown = [e for e in args.experiment if e not in known]
    if unknown:
        print(f"exp_show: error: --experiment: {', '.join(unknown)} not in params.yaml;"
              f" allowed: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    print(render(cols, args.experiment, args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
