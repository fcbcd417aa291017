"""Saving the reports' figures so that a reader can read them (issue 13 item 6).

Every figure a step writes goes through :func:`save_figure`, which refuses a
panel without axis titles and records each panel's title and axis titles in
the PNG itself (a ``tEXt`` chunk named :data:`AXES_KEY`), so a test can read
them back from the file the step wrote. :func:`integer_ticks` puts generation
ticks on whole numbers; :func:`readable_log` chooses a log axis only for a
range wide enough to need one and labels its ticks as plain numbers.
"""

from __future__ import annotations

import json
import os
from typing import Any

from evosynth.artifacts import atomic_path
from evosynth.errors import ArtifactError

#: The PNG text key holding the panels' titles and axis titles (a JSON list).
AXES_KEY = "evosynth:axes"

#: A quantity whose largest value is under this many times its smallest stays on a linear axis.
LOG_ABOVE = 4.0


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Ticks on whole numbers only (generations are integers: no tick at 0.5)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def readable_log(ax: Any, axis: str, values: list[float]) -> bool:
    """A log scale on ``axis`` only when ``values`` span at least :data:`LOG_ABOVE` times; ticks as plain numbers.

    Returns whether the axis is logarithmic (the caller says so in its label).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    positive = [v for v in values if v and v > 0]
    if not positive or max(positive) / min(positive) < LOG_ABOVE:
        return False
    getattr(ax, f"set_{axis}scale")("log")
    target = getattr(ax, f"{axis}axis")
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))  # 1, 2, 3, 5, 10, ...: a tick per panel height
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1000 else f"{v:g}"))
    target.set_minor_formatter(NullFormatter())
    return True


def panels(fig: Any) -> list[dict[str, str]]:
    """Title, x-axis and y-axis title of every panel that shows data or is labelled (a twin axis shares its host's x title)."""
    described = []
    for ax in fig.get_axes():
        if not (ax.lines or ax.collections or ax.patches or ax.images) and not ax.get_ylabel():
            continue
        xlabel = ax.get_xlabel() or next(
            (o.get_xlabel() for o in fig.get_axes() if o is not ax and o.get_position().bounds == ax.get_position().bounds
             and o.get_xlabel()), "")
        described.append({"title": ax.get_title(), "xlabel": xlabel, "ylabel": ax.get_ylabel()})
    return described


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> list[dict[str, str]]:
    """Lay out, check and write ``fig`` as PNG with its panels' labels embedded; close it.

    Raises :class:`ArtifactError` naming the file when a panel that shows data
    lacks an x- or y-axis title (nothing is written then).
    """
    plt = pyplot()
    described = panels(fig)
    missing = [p["title"] or f"panel {k + 1}" for k, p in enumerate(described) if not (p["xlabel"] and p["ylabel"])]
    if missing:
        plt.close(fig)
        raise ArtifactError(f"{path}: figure without axis titles ({', '.join(missing)})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={AXES_KEY: json.dumps(described)})
    plt.close(fig)
    return described


def read_axes(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The panels' labels recorded in a PNG written by :func:`save_figure` (empty if none)."""
    from PIL import Image

    with Image.open(path) as image:
        text = getattr(image, "text", {}) or {}
    return json.loads(text[AXES_KEY]) if AXES_KEY in text else []
