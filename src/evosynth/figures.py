"""The reports' figure conventions, in one place, so that a paper's reader can read every figure.

Every figure a step writes is laid out by :func:`grid` (panels in a grid of at
most :data:`MAX_COLUMNS` columns, constrained layout) and written by
:func:`save_figure`, which refuses a figure a reader could not read:

- a panel that shows data without an x- or y-axis title;
- a panel whose axis is an efficiency, a reduction or a speed-up (a ratio
  over the ancestor, :func:`is_ratio`) on a linear scale: ratios go on log
  axes (:func:`ratio_axis`);
- a legend drawn over a panel's data area: legends go beside the panels
  (:func:`legend_beside`) or under the figure (:func:`figure_legend`);
- a figure narrower or wider than :data:`ASPECT` (a strip of panels);
- an axis with more than :data:`MAX_TICKS` labelled ticks (named ticks excepted).

The PNG is saved with ``bbox_inches="tight"`` (no label cut at the edge) and
records each panel's title, axis titles and scales in a ``tEXt`` chunk named
:data:`AXES_KEY`, so a test can read them back from the file a step wrote.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from evosynth.artifacts import atomic_path
from evosynth.errors import ArtifactError

#: The PNG text key holding the panels' titles, axis titles and scales (a JSON list).
AXES_KEY = "evosynth:axes"
#: A count whose largest value is under this many times its smallest stays on a linear axis.
LOG_ABOVE = 4.0
#: One panel's size in inches (width, height), and the most panels side by side.
PANEL = (4.4, 3.3)
MAX_COLUMNS = 3
#: Width / height bounds of a written figure (a 6:1 strip of panels is refused).
ASPECT = (0.35, 3.6)
#: The most labelled ticks on one axis.
MAX_TICKS = 10
#: Words that make an axis title a ratio over the ancestor (drawn on a log axis).
RATIO_WORDS = ("efficiency", "reduction", "speed-up")


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grid(panels: int, columns: int | None = None, panel: tuple[float, float] = PANEL, beside: float = 0.0,
         **shared: Any):
    """A figure of ``panels`` axes in rows of at most :data:`MAX_COLUMNS`, constrained layout.

    ``beside``: inches added to the width for legends beside the panels (:func:`legend_beside`), so that the
    panels keep their size. Returns ``(fig, axes)`` with ``axes`` a flat list of the used panels (the unused
    cells are removed); ``shared`` goes to ``subplots`` (``sharey=True``, ...).
    """
    plt = pyplot()
    columns = max(1, min(columns or MAX_COLUMNS, panels))
    rows = math.ceil(panels / columns)
    # room for a suptitle and a legend under the panels beyond the panels' own height
    fig = plt.figure(figsize=(panel[0] * columns + beside, panel[1] * rows + 0.7), layout="constrained")
    axes = list(fig.subplots(rows, columns, squeeze=False, **shared).flat)
    for extra in axes[panels:]:
        extra.remove()
    return fig, axes[:panels]


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Ticks on whole numbers only (generations are integers: no tick at 0.5)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True, nbins=8))


def _plain(value: float, _: Any = None) -> str:
    """A tick label as a plain number: 0.5, 3, 82.75, 1,000."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def log_axis(ax: Any, axis: str, values: Sequence[float]) -> None:
    """``axis`` on a log scale with readable ticks for the range of ``values``, labelled as plain numbers.

    Under a decade: at most six evenly spaced ticks; about one decade: 1, 2, 3, 5; up to one and a half: 1, 2,
    5; up to three: 1, 3; beyond: one per decade, every other one past four decades on x (its labels are wide).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    getattr(ax, f"set_{axis}scale")("log")
    target = getattr(ax, f"{axis}axis")
    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    decades = math.log10(max(positive) / min(positive)) if positive else 0.0
    if decades < 0.8:
        target.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    elif decades <= 1.5:
        subs = (1.0, 2.0, 3.0, 5.0) if decades <= 1.05 else (1.0, 2.0, 5.0)
        target.set_major_locator(LogLocator(base=10, subs=subs))
    elif decades <= 3:
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    else:
        target.set_major_locator(LogLocator(base=10, subs=(1.0,), numticks=7 if axis == "y" or decades <= 4 else 4))
    target.set_major_formatter(FuncFormatter(_plain))
    target.set_minor_formatter(NullFormatter())


def ratio_axis(ax: Any, axis: str, values: Sequence[float], label: str, unit: str = "× generation 0") -> None:
    """An efficiency, reduction or speed-up axis: always logarithmic (×2 and ÷2 the same distance), titled
    ``label`` with its unit and scale."""
    log_axis(ax, axis, values)
    getattr(ax, f"set_{axis}label")(f"{label} ({unit}, log scale)")


def tidy(ax: Any, generations: bool = True) -> None:
    """The house style of a panel: a light grid on the major ticks, plain tick labels (150,000, not 1.5e5, on a
    linear axis), whole generations on x."""
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    ax.grid(alpha=0.3)
    for axis in ("x", "y"):
        if isinstance(getattr(ax, f"{axis}axis").get_major_formatter(), ScalarFormatter):  # not named ticks
            getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(_plain))
    if generations:
        integer_ticks(ax)


def readable_log(ax: Any, axis: str, values: list[float]) -> bool:
    """A count (synapses, filters) on a log scale only when ``values`` span at least :data:`LOG_ABOVE` times.

    Returns whether the axis is logarithmic (the caller says so in its label).
    """
    positive = [v for v in values if v and v > 0]
    if not positive or max(positive) / min(positive) < LOG_ABOVE:
        return False
    log_axis(ax, axis, positive)
    return True


def is_ratio(label: str) -> bool:
    """Whether an axis title names a ratio over the ancestor (see :data:`RATIO_WORDS`)."""
    return any(word in label for word in RATIO_WORDS)


def legend_beside(ax: Any, **options: Any) -> Any:
    """The legend of ``ax`` to its right, outside the data area."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small", **options)


def figure_legend(fig: Any, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None,
                  columns: int = 3, **options: Any) -> Any:
    """One legend for every panel, under the figure (the panels' first handles when none are given)."""
    if handles is None:
        seen: dict[str, Any] = {}
        for ax in fig.get_axes():
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        handles, labels = list(seen.values()), list(seen)
    return fig.legend(handles, labels, loc="outside lower center", ncols=max(1, min(columns, len(handles))),
                      fontsize="small", **options)


def _label(fig: Any, ax: Any, axis: str) -> str:
    """The title of ``ax``'s ``axis``, or of the panel it is shared with (a twin's x, a row's shared y)."""
    own = getattr(ax, f"get_{axis}label")()
    if own:
        return own
    shared = getattr(ax, f"get_shared_{axis}_axes")()
    for other in fig.get_axes():
        twin = axis == "x" and other.get_position().bounds == ax.get_position().bounds
        if other is not ax and (twin or shared.joined(ax, other)) and getattr(other, f"get_{axis}label")():
            return getattr(other, f"get_{axis}label")()
    return ""


def panels(fig: Any) -> list[dict[str, str]]:
    """Title, axis titles and scales of every panel that shows data or is labelled (a twin shares its host's x,
    a row of panels sharing y the first one's y title)."""
    described = []
    for ax in fig.get_axes():
        if not (ax.lines or ax.collections or ax.patches or ax.images) and not ax.get_ylabel():
            continue
        described.append({"title": ax.get_title() or ax.get_title("left"), "xlabel": _label(fig, ax, "x"),
                          "ylabel": _label(fig, ax, "y"),
                          "xscale": ax.get_xscale(), "yscale": ax.get_yscale()})
    return described


def problems(fig: Any) -> list[str]:
    """What would make ``fig`` unreadable (the rules of this module's docstring); empty when none."""
    found = []
    described = panels(fig)
    for k, p in enumerate(described):
        name = p["title"] or f"panel {k + 1}"
        if not (p["xlabel"] and p["ylabel"]):
            found.append(f"{name}: an axis without a title")
        for axis in ("x", "y"):
            if is_ratio(p[f"{axis}label"]) and p[f"{axis}scale"] != "log":
                found.append(f"{name}: the ratio '{p[f'{axis}label']}' on a linear axis")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.get_tightbbox(renderer).size  # as written (bbox_inches="tight"), legends included
    if not ASPECT[0] <= width / height <= ASPECT[1]:
        found.append(f"{width:.1f}×{height:.1f} in: the figure is a strip (width / height outside {ASPECT})")
    shown = [ax for ax in fig.get_axes() if ax.get_visible() and (ax.lines or ax.collections or ax.patches)]
    legends = [ax.get_legend() for ax in fig.get_axes() if ax.get_legend()] + list(fig.legends)
    for legend in legends:
        box = legend.get_window_extent(renderer)
        if any(box.overlaps(ax.get_window_extent(renderer)) for ax in shown):
            found.append("a legend over a panel's data area")
    for ax in shown:
        for axis in (ax.xaxis, ax.yaxis):
            if named_ticks(axis):
                continue  # one per architecture, say: as many as there are names
            low, high = sorted(ax.get_xlim() if axis is ax.xaxis else ax.get_ylim())
            ticks = [t for t in axis.get_majorticklocs() if low <= t <= high]
            if len(ticks) > MAX_TICKS:
                found.append(f"{ax.get_title() or 'a panel'}: {len(ticks)} ticks on one axis")
    return found


def named_ticks(axis: Any) -> bool:
    """Whether ``axis`` labels its ticks with names given to them (``set_yticks(ys, names)``), not numbers.

    Older matplotlib keeps such names in a ``FixedFormatter``; the pinned 3.11 in a ``FuncFormatter`` over a
    partial holding the ``{location: name}`` dict.
    """
    from matplotlib.ticker import FixedFormatter

    formatter = axis.get_major_formatter()
    func = getattr(formatter, "func", None)
    return isinstance(formatter, FixedFormatter) or (
        isinstance(func, functools.partial) and any(isinstance(a, dict) for a in func.args))


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> list[dict[str, str]]:
    """Check, lay out and write ``fig`` as PNG with its panels' labels and scales embedded; close it.

    Raises :class:`ArtifactError` naming the file and every problem of :func:`problems` (nothing is written then).
    """
    plt = pyplot()
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    found = problems(fig)
    if found:
        plt.close(fig)
        raise ArtifactError(f"{path}: figure a reader cannot read ({'; '.join(found)})")
    described = panels(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1,
                    metadata={AXES_KEY: json.dumps(described)})
    plt.close(fig)
    return described


def read_axes(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The panels' labels and scales recorded in a PNG written by :func:`save_figure` (empty if none)."""
    from PIL import Image

    with Image.open(path) as image:
        text = getattr(image, "text", {}) or {}
    return json.loads(text[AXES_KEY]) if AXES_KEY in text else []
