"""Bar charts drawn as server-rendered SVG: the geometry of each bar, axis and label, for a Jinja template.

No script draws them (the console's CSP allows none inline, and none is needed): the
view turns the figures into rectangles in a fixed ``viewBox`` that CSS scales to the
card's width; ``templates/directory_sync/_chart.html`` writes them out with a <title>,
a <desc> and a visually hidden table of the same figures for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the drawing's coordinate system (the SVG viewBox); CSS gives it the card's width
WIDTH, HEIGHT = 480, 200
#: room for the y axis' labels on the left and the x axis' labels below
LEFT, RIGHT, TOP, BOTTOM = 48, 6, 10, 24
#: how many steps the y axis has
Y_STEPS = 4


@dataclass(frozen=True)
class Series:
    """One kind of bar: its key in the figures, its legend label, its CSS class (the colour)."""

    key: str
    label: str
    css: str


@dataclass(frozen=True)
class Rect:
    """One bar (or one stacked part of a bar) in viewBox units, with its figure."""

    x: float
    y: float
    width: float
    height: float
    css: str
    value: int


@dataclass
class Column:
    """One time bucket: its axis label (may be empty), its full name, its bars and figures."""

    label: str
    name: str
    #: the bucket's whole slot (the hover area) and the middle of its bars
    slot_x: float
    slot_width: float
    center: float
    values: dict[str, int]
    rects: list[Rect] = field(default_factory=list)
    #: "09:00–10:00: 120 succeeded, 3 failed", the bar's tooltip
    summary: str = ""


@dataclass
class Chart:
    """Everything the template draws: columns, y ticks, legend and the text alternatives."""

    id: str
    title: str
    description: str
    series: list[Series]
    columns: list[Column]
    ticks: list[tuple[int, float]]
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    top: int = TOP


def nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least ``value`` (1 at least): a readable axis step."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def bar_chart(
    chart_id: str,
    title: str,
    buckets: Sequence[Any],
    series: Sequence[Series],
    *,
    label: Callable[[int, Any], str],
    name: Callable[[Any], str],
    describe: Callable[[list[Column]], str],
    stacked: bool,
) -> Chart:
    """A bar chart of ``buckets`` (objects with one attribute per series key), stacked or side by side.

    ``label(i, bucket)`` is the axis label under the i-th bucket ("" for none), ``name(bucket)``
    its full name (tooltip and table), ``describe(columns)`` the chart's one-sentence summary.
    """
    values = [{s.key: int(getattr(b, s.key)) for s in series} for b in buckets]
    peak = max((sum(v.values()) if stacked else max(v.values(), default=0) for v in values), default=0)
    step = nice_step(peak / Y_STEPS)
    top_value = step * Y_STEPS
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(len(buckets), 1)
    bar_width = slot * 0.7
    columns: list[Column] = []
    for i, (bucket, figures) in enumerate(zip(buckets, values, strict=True)):
        x = LEFT + slot * i + (slot - bar_width) / 2
        slot_x = round(LEFT + slot * i, 2)
        column = Column(label(i, bucket), name(bucket), slot_x, round(slot, 2), round(x + bar_width / 2, 2), figures)
        base = float(HEIGHT - BOTTOM)
        width = bar_width if stacked else bar_width / len(series)
        for n, s in enumerate(series):
            height = plot_height * figures[s.key] / top_value
            if figures[s.key] == 0:
                continue
            bar_x = x if stacked else x + width * n
            bar_y = base - height if stacked else HEIGHT - BOTTOM - height
            column.rects.append(
                Rect(round(bar_x, 2), round(bar_y, 2), round(width, 2), round(height, 2), s.css, figures[s.key])
            )
            if stacked:
                base -= height
        column.summary = f"{column.name}: " + ", ".join(f"{figures[s.key]:,} {s.label.lower()}" for s in series)
        columns.append(column)
    ticks = [(step * n, round(HEIGHT - BOTTOM - plot_height * n / Y_STEPS, 2)) for n in range(Y_STEPS + 1)]
    return Chart(chart_id, title, describe(columns), list(series), columns, ticks, empty=peak == 0)
