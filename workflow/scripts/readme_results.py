"""Rebuild the measured results in docs/results.md and the README's verdicts from the committed reports.

    python workflow/scripts/readme_results.py           # rewrite both generated blocks
    python workflow/scripts/readme_results.py --check   # exit 1 if either block is stale

Two blocks, each between its markers, made only of report files the pipeline
writes, never typed by hand:

- ``docs/results.md``, between ``<!-- results:start -->`` and ``<!-- results:end -->``:
  the default experiment's generation table, the evidence set's verdicts,
  the one-seed claims against their controls, the baselines' verdicts, the
  pick set, the capacity probe and the runtime of the timed experiment
  (each report named above its table);
- ``README.md``, between ``<!-- verdicts:start -->`` and ``<!-- verdicts:end -->``:
  one row per claim of the evidence set (``reports/evidence/evidence.csv``).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"
VERDICTS_START, VERDICTS_END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
RESULTS, README = Path("docs/results.md"), Path("README.md")
EVIDENCE = "reports/evidence/evidence.csv"
#: (report file, what it is), in the order docs/results.md shows them.
SOURCES = (
    ("reports/fmnist_evonet/generations.md", "The default experiment, generation by generation"),
    ("reports/evidence/evidence.md", "The evidence set: each paper's claim over seeds, full Fashion-MNIST, past 100x"),
    ("reports/methods/comparisons.md", "Each paper's claim against its control (one seed, subsets: a pilot, not a verdict)"),
    ("reports/papers/baselines.md", "Evolution against plain pruning at matched synapse counts"),
    ("reports/picks/picks.md", "The pick set: the pick against three pruning baselines and its ablations, over seeds"),
    ("reports/probe/probe.md", "The capacity probe: can any network small enough for the targets come within 1 pp?"),
    ("reports/fmnist_evonet/runtime.md", "Runtime of the default experiment's generations"),
)
NOTE = "*Generated from the reports by `workflow/scripts/readme_results.py`; do not edit by hand.*"


def _body(text: str) -> str:
    """A report without its own title, its headings one level down (they sit under its section)."""
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 1, 6) + " ", line) for line in lines).strip()


def block(root: Path) -> str:
    """docs/results.md's block: every report of :data:`SOURCES` there is, linked from docs/."""
    parts = [START, "", NOTE]
    for path, title in SOURCES:
        file = root / path
        if not file.is_file():
            continue
        parts += ["", f"## {title}", "", f"Source: [`{path}`](../{path})", "", _body(file.read_text())]
    return "\n".join([*parts, "", END])


def _signed(value: str) -> str:
    return f"{float(value):+.3f}"


def _effect(row: dict[str, str]) -> tuple[str, str]:
    """The effect and its interval, or dashes where the claim had no usable range."""
    if row["verdict"] == "not testable here" or row["mean"] in ("", "nan"):
        return "–", "–"
    return f"{_signed(row['mean'])} {row['unit']}", f"[{_signed(row['low'])}, {_signed(row['high'])}]"


def _accuracy(row: dict[str, str]) -> str:
    """Both arms' test accuracy where the claim was judged (end of the usable range), else at the last generation."""
    for t, c, where in (("treatment_accuracy_in_range", "control_accuracy_in_range", "in range"),
                        ("treatment_final_accuracy", "control_final_accuracy", "last generation")):
        if row.get(t) not in (None, "", "nan"):
            return f"{float(row[t]):.1f} / {float(row[c]):.1f} % ({where})"
    return "–"


def verdicts(root: Path) -> str:
    """The README's block: the evidence set's claims, one row each, from ``reports/evidence/evidence.csv``."""
    parts = [VERDICTS_START, "", NOTE.replace("by hand.*", f"by hand; source: [`{EVIDENCE}`]({EVIDENCE}).*"), ""]
    file = root / EVIDENCE
    if file.is_file():
        with file.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        parts += ["| claim | compared | usable range | seeds | effect (mean) | 95 % interval | verdict |"
                  " test accuracy T / C |",
                  "|:---|:---|:---|---:|---:|:---|:---|:---|"]
        for r in rows:
            effect, interval = _effect(r)
            seeds = f"{r['seeds_usable']} of {r['seeds']}" if r.get("seeds_usable") else r["seeds"]
            parts.append(f"| `{r['claim']}` | {r['metric']} at matched {r['at']} | {r.get('usable_range') or '–'} |"
                         f" {seeds} | {effect} | {interval} | **{r['verdict']}** | {_accuracy(r)} |")
    else:
        parts += [f"(no `{EVIDENCE}` yet: run the evidence set, then this script)"]
    return "\n".join([*parts, "", VERDICTS_END])


def replace(text: str, start: str, end: str, new: str, name: str) -> str:
    """``text`` with the block between ``start`` and ``end`` (markers included) replaced by ``new``."""
    if start not in text or end not in text:
        raise ValueError(f"{name} has no {start} … {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + new + tail


def render(readme: str, root: Path) -> str:
    """README.md with its verdicts block rebuilt."""
    return replace(readme, VERDICTS_START, VERDICTS_END, verdicts(root), str(README))


def render_results(results: str, root: Path) -> str:
    """docs/results.md with its results block rebuilt."""
    return replace(results, START, END, block(root), str(RESULTS))


#: Each generated file and how its text is rebuilt.
TARGETS: tuple[tuple[Path, Callable[[str, Path], str]], ...] = ((README, render), (RESULTS, render_results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: .)")
    parser.add_argument("--check", action="store_true", help="only check that both blocks are up to date")
    args = parser.parse_args(argv)
    texts = {}
    for path, rebuild in TARGETS:
        file = args.root / path
        try:
            texts[file] = (file.read_text(), rebuild(file.read_text(), args.root))
        except (OSError, ValueError) as exc:
            print(f"readme_results: error: {exc}", file=sys.stderr)
            return 2
    if args.check:
        stale = [str(file.relative_to(args.root)) for file, (old, new) in texts.items() if old != new]
        if stale:
            print(f"{' and '.join(stale)}: the generated results are stale: run python workflow/scripts/readme_results.py",
                  file=sys.stderr)
            return 1
        return 0
    for file, (old, new) in texts.items():
        if new != old:
            file.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
