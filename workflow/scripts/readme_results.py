"""Rebuild the README's measured results from the committed reports, so its figures cannot drift.

    python workflow/scripts/readme_results.py           # rewrite the block between the markers
    python workflow/scripts/readme_results.py --check   # exit 1 if the README's block is stale

The block between ``<!-- results:start -->`` and ``<!-- results:end -->`` is
made only of report files the pipeline writes (each named above its table):
the default experiment's generation table, the evidence set's verdicts,
the one-seed claims against their controls, the baselines' verdicts and
the runtime of the timed experiment.
Nothing in it is typed by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"
#: (report file, what it is), in the order the README shows them.
SOURCES = (
    ("reports/fmnist_evonet/generations.md", "The default experiment, generation by generation"),
    ("reports/evidence/evidence.md", "The evidence set: each paper's claim over seeds, full Fashion-MNIST, past 100x"),
    ("reports/methods/comparisons.md", "Each paper's claim against its control (one seed, subsets: a pilot, not a verdict)"),
    ("reports/papers/baselines.md", "Evolution against plain pruning at matched synapse counts"),
    ("reports/picks/picks.md", "The pick set: the pick against three pruning baselines and its ablations, over seeds"),
    ("reports/probe/probe.md", "The capacity probe: can any network small enough for the targets come within 1 pp?"),
    ("reports/fmnist_evonet/runtime.md", "Runtime of the default experiment's generations"),
)


def _body(text: str) -> str:
    """A report without its own title, its headings two levels down (they sit under a README section)."""
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", line) for line in lines).strip()


def block(root: Path) -> str:
    parts = [START, "", "*Generated from the reports by `workflow/scripts/readme_results.py`; do not edit by hand.*"]
    for path, title in SOURCES:
        file = root / path
        if not file.is_file():
            continue
        parts += ["", f"#### {title}", "", f"Source: [`{path}`]({path})", "", _body(file.read_text())]
    return "\n".join([*parts, "", END])


def render(readme: str, root: Path) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"README has no {START} … {END} block")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + block(root) + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: .)")
    parser.add_argument("--check", action="store_true", help="only check that the README's block is up to date")
    args = parser.parse_args(argv)
    readme = args.root / "README.md"
    try:
        text = render(readme.read_text(), args.root)
    except ValueError as exc:
        print(f"readme_results: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if text != readme.read_text():
            print("README.md's results are stale: run python workflow/scripts/readme_results.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
