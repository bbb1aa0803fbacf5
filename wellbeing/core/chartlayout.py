"""Layout arithmetic shared by the server-rendered SVG charts (reports, screening): how wide a
label is, where axis labels go so none is clipped or overlaps its neighbour, and a legend laid
out in rows below the plot so it never covers a series.

The browser does not tell the server how wide a text is, so widths are estimated on the safe
side: a CJK character is one em, any other character 0.62 em (wider than the average Latin
glyph at the sizes used). Pure functions, no Flask.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

FONT = 11.0  # px, the charts' tick and legend size (CSS: .tick, .legend-text)
SWATCH = 10.0
SWATCH_GAP = 4.0
ENTRY_GAP = 16.0
ROW_HEIGHT = 16.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in SVG user units (y grows downwards)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def inside(self, width: float, height: float) -> bool:
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height

    def intersects(self, other: Box) -> bool:
        return not (
            self.right <= other.x
            or other.right <= self.x
            or self.bottom <= other.y
            or other.bottom <= self.y
        )


@dataclass(frozen=True)
class Label:
    """A text placed at (x, y) (the baseline) with an SVG ``text-anchor``."""

    x: float
    y: float
    text: str
    anchor: str = "middle"  # start | middle | end

    @property
    def box(self) -> Box:
        width = text_width(self.text)
        left = {"start": self.x, "middle": self.x - width / 2, "end": self.x - width}[self.anchor]
        return Box(left, self.y - FONT, width, FONT + 3)


@dataclass(frozen=True)
class LegendEntry:
    css: str
    name: str
    swatch: Box
    text: Label

    @property
    def box(self) -> Box:
        text = self.text.box
        top = min(self.swatch.y, text.y)
        bottom = max(self.swatch.bottom, text.bottom)
        return Box(self.swatch.x, top, text.right - self.swatch.x, bottom - top)


def text_width(text: str, size: float = FONT) -> float:
    """A safe (wide) estimate of the rendered width of ``text`` at ``size`` px."""
    width = 0.0
    for char in text:
        wide = unicodedata.east_asian_width(char) in ("W", "F")
        width += size if wide else size * 0.62
    return width


def fit(text: str, room: float) -> str:
    """``text``, cut with an ellipsis if it would be wider than ``room``."""
    if text_width(text) <= room:
        return text
    while text and text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def x_axis_labels(
    positions: list[tuple[float, str]], y: float, width: float, margin: float = 2.0
) -> list[Label]:
    """Labels centred under their x, moved inwards at the edges so none leaves
    ``[margin, width - margin]``, and thinned (every k-th kept, the last always) so that no two
    overlap."""
    if not positions:
        return []
    widest = max(text_width(text) for _x, text in positions)
    spacing = (positions[-1][0] - positions[0][0]) / max(1, len(positions) - 1)
    step = 1
    if len(positions) > 1 and spacing > 0:
        while spacing * step < widest + 6 and step < len(positions):
            step += 1
    labels: list[Label] = []
    for x, text in reversed(positions[::-1][::step][::-1]):
        half = text_width(text) / 2
        label = Label(min(max(x, margin + half), width - margin - half), y, text, "middle")
        # Moving an edge label inwards may bring it onto its neighbour: drop the neighbour.
        if not labels or label.box.right + 4 <= labels[-1].box.x:
            labels.append(label)
    return labels[::-1]


def legend_rows(
    entries: list[tuple[str, str]], top: float, left: float, width: float
) -> list[LegendEntry]:
    """Legend entries (css class, name) in rows starting at ``top``, wrapping before
    ``width - left``; each entry is a swatch followed by its name."""
    laid: list[LegendEntry] = []
    x, y = left, top
    room = width - 2 * left - SWATCH - SWATCH_GAP
    for css, full_name in entries:
        name = fit(full_name, room)
        entry_width = SWATCH + SWATCH_GAP + text_width(name)
        if x > left and x + entry_width > width - left:
            x, y = left, y + ROW_HEIGHT
        swatch = Box(x, y + 1, SWATCH, SWATCH)
        text = Label(x + SWATCH + SWATCH_GAP, y + FONT, name, "start")
        laid.append(LegendEntry(css, name, swatch, text))
        x += entry_width + ENTRY_GAP
    return laid


def legend_bottom(entries: list[LegendEntry], default: float) -> float:
    return max((e.box.bottom for e in entries), default=default)
