"""Write one section of reports/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from evosynth.analysis.runtime import host
from evosynth.artifacts import write_text

BENCHMARKS = Path(__file__).resolve().parents[1] / "reports" / "benchmarks.md"
HEADER = "# Benchmarks\n\nFigures printed by the scripts in `benchmarks/`, each section rewritten by its script.\n"


def machine_line() -> str:
    info = host()
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
    return f"Machine: {info['cpu']}, {info['cores']} cores, {info['system']}; {libs}. Date: {time.strftime('%Y-%m-%d')}."


def update_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the ``## title`` section of the benchmarks report."""
    text = path.read_text() if path.is_file() else HEADER
    section = f"## {title}\n\n{body.strip()}\n\n{machine_line()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    write_text(path, text)


def seconds_table(label: str, rows: list[tuple[str, list[float]]], note: str) -> str:
    """A markdown table of wall times (median, min, max per row) and a note under it."""
    lines = [f"| {label} | median s | min s | max s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {statistics.median(t):.2f} | {min(t):.2f} | {max(t):.2f} |" for name, t in rows]
    return "\n".join(lines) + f"\n\n{note}"


def publish(title: str, text: str) -> None:
    """Print a benchmark's figures and write them into its section of the report."""
    print(text)
    update_section(title, text)
