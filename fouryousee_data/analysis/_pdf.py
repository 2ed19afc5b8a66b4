"""A4 pages from a flow of blocks (private module, public names): the audit PDF's layout.

Blocks are laid top to bottom; a block that does not fit starts a new page, a
:class:`Table` splits across pages (its header repeated), a block marked
``keep_with_next`` moves with the next one. So a page is never left half empty
by a table that would have fitted, and nothing is drawn past a margin. Every
text is measured with matplotlib's own font metrics before it is placed: column
widths come from the widest cell, numbers are right-aligned on one edge, a text
too wide for its column is shortened with "…".

Nothing here imports matplotlib at module level.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PAGE",
    "WIDTH",
    "Block",
    "Chart",
    "Gap",
    "Logo",
    "PageBreak",
    "Para",
    "Rule",
    "Signature",
    "Table",
    "footer_line",
    "layout",
    "render",
    "text_width",
]

#: A4 portrait, in inches; margins and the width between them.
PAGE = (8.27, 11.69)
LEFT, TOP, BOTTOM = 0.7, 0.6, 0.8
WIDTH = PAGE[0] - 2 * LEFT
_HEIGHT = PAGE[1] - TOP - BOTTOM
_PT = 1 / 72  # one point, in inches
_PAD = 4.0  # points of padding left and right of a table cell


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` in points, measured with matplotlib's font metrics."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = _renderer(RendererAgg).get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


@functools.lru_cache(maxsize=1)
def _renderer(cls: Any) -> Any:
    return cls(1, 1, 72)  # at 72 dpi a pixel is a point


class Block:
    """Something drawn across the page's width; ``height`` in inches."""

    height: float = 0.0
    keep_with_next: bool = False
    keep_with_previous: bool = False  # never alone atop a page: a table's last rows come along

    def min_height(self) -> float:
        """The least of it that may stand at the bottom of a page."""
        return self.height

    def draw(self, fig: Figure, top: float) -> None:
        """Draw it with its top ``top`` inches below the page's top."""


@dataclass
class Gap(Block):
    """Vertical space (dropped at the top of a page; kept with the block after it)."""

    height: float = 0.12
    keep_with_next: bool = True


@dataclass
class PageBreak(Block):
    """The next block starts a new page."""


@dataclass
class Rule(Block):
    """A thin horizontal line."""

    height: float = 0.12

    def draw(self, fig: Figure, top: float) -> None:
        from matplotlib.lines import Line2D

        y = _y(top + self.height / 2)
        fig.add_artist(Line2D([_x(0), _x(WIDTH)], [y, y], color="0.6", linewidth=0.6))


@dataclass
class Para(Block):
    """Lines of text: each line ``(text, size, bold, colour)``; long lines are wrapped."""

    lines: Sequence[tuple[str, float, bool, str]]
    keep_with_next: bool = False
    indent: float = 0.0  # inches
    width: float = WIDTH
    rows: list[tuple[str, float, bool, str]] = field(init=False)

    def __post_init__(self) -> None:
        room = (self.width - self.indent) / _PT
        self.rows = [
            (part, size, bold, colour)
            for text, size, bold, colour in self.lines
            for part in wrap(text, size, bold, room)
        ]
        self.height = sum(size * 1.45 * _PT for _, size, _, _ in self.rows)

    def draw(self, fig: Figure, top: float) -> None:
        y = top
        for text, size, bold, colour in self.rows:
            y += size * 1.2 * _PT
            fig.text(
                _x(self.indent), _y(y), text, fontsize=size, color=colour,
                weight="bold" if bold else "normal", va="baseline", parse_math=False,
            )  # fmt: skip
            y += size * 0.25 * _PT


def wrap(text: str, size: float, bold: bool, room: float) -> list[str]:
    """``text`` cut at spaces into lines at most ``room`` points wide (and at newlines)."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size, bold) > room:
                out.append(line)
                line = word
            else:
                line = candidate
        out.append(_shorten(line, size, bold, room))
    return out


def _shorten(text: str, size: float, bold: bool, room: float) -> str:
    """``text``, cut with "…" to fit ``room`` points."""
    if text_width(text, size, bold) <= room:
        return text
    while text and text_width(text + "…", size, bold) > room:
        text = text[:-1]
    return text + "…"


@dataclass
class Logo(Block):
    """An image at the left and lines of text beside it (the company block)."""

    path: Path | None
    lines: Sequence[tuple[str, float, bool, str]]
    max_height: float = 0.75
    max_width: float = 2.0

    def __post_init__(self) -> None:
        self.image: Any = None
        self.size = (0.0, 0.0)
        if self.path is not None:
            from matplotlib.image import imread

            self.image = imread(self.path)
            h, w = self.image.shape[:2]
            scale = min(self.max_height / h, self.max_width / w)
            self.size = (w * scale, h * scale)
        text_left = self.size[0] + 0.2 if self.image is not None else 0.0
        self.para = Para(self.lines, indent=text_left)
        self.height = max(self.size[1], self.para.height)

    def draw(self, fig: Figure, top: float) -> None:
        if self.image is not None:
            w, h = self.size
            ax = fig.add_axes((_x(0), _y(top + h), w / PAGE[0], h / PAGE[1]))
            ax.imshow(self.image, interpolation="antialiased")
            ax.set_axis_off()
        self.para.draw(fig, top + max(0.0, (self.size[1] - self.para.height) / 2))


@dataclass
class Chart(Block):
    """A chart ``height`` inches tall; ``draw_on(ax)`` draws it (margins for its labels)."""

    draw_on: Callable[[Axes], Any]
    height: float = 2.6
    keep_with_next: bool = False

    def draw(self, fig: Figure, top: float) -> None:
        left, bottom, right, above = 0.6, 0.45, 0.1, 0.3  # inches for labels and title
        rect = (
            _x(left),
            _y(top + self.height - bottom),
            (WIDTH - left - right) / PAGE[0],
            (self.height - bottom - above) / PAGE[1],
        )
        self.draw_on(fig.add_axes(rect))


@dataclass
class Table(Block):
    """Rows of text under a bold header; ``align`` per column: ``"l"``, ``"r"`` or ``"c"``.

    Columns are as wide as their widest cell (the header wraps at spaces), then
    stretched to the page's width; left-aligned columns give way (with "…") when
    the table would be wider than the page.
    """

    header: Sequence[str]
    rows: list[list[str]]
    align: Sequence[str]
    size: float = 8.0
    min_rows: int = 3
    keep_with_next: bool = False
    caption: str = ""  # drawn above the header on the pages the table continues on

    def __post_init__(self) -> None:
        self.widths = _column_widths(self.header, self.rows, self.align, self.size)
        self.head_lines = [
            wrap(h, self.size, True, w - 2 * _PAD)
            for h, w in zip(self.header, self.widths, strict=True)
        ]
        self.row_h = self.size * 1.55 * _PT
        self.head_h = max(len(lines) for lines in self.head_lines) * self.size * 1.25 * _PT
        self.head_h += 0.1
        self.caption_h = self.size * 2.2 * _PT if self.caption else 0.0
        self.height = self.head_h + len(self.rows) * self.row_h

    def min_height(self) -> float:
        return self.head_h + min(len(self.rows), self.min_rows) * self.row_h

    def rows_fitting(self, room: float) -> int:
        """How many rows fit in ``room`` inches under the header."""
        return max(0, int((room - self.head_h) / self.row_h + 1e-9))

    def draw_rows(self, fig: Figure, top: float, first: int, last: int) -> None:
        """Draw the header and ``rows[first:last]`` from ``top`` down (under the caption
        when ``first > 0``)."""
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        if first > 0 and self.caption:
            fig.text(_x(0), _y(top + self.size * 1.3 * _PT), self.caption, fontsize=self.size,
                     color="0.35", va="baseline", parse_math=False)  # fmt: skip
            top += self.caption_h

        edges = [0.0]
        for w in self.widths:
            edges.append(edges[-1] + w * _PT)
        for i, lines in enumerate(self.head_lines):
            y = top
            for line in lines:
                y += self.size * 1.25 * _PT
                self._cell(fig, line, i, edges, y, bold=True)
        rule = _y(top + self.head_h - 0.04)
        fig.add_artist(Line2D([_x(0), _x(edges[-1])], [rule, rule], color="0.3", lw=0.6))
        y = top + self.head_h
        for n, row in enumerate(self.rows[first:last]):
            if n % 2:
                fig.add_artist(
                    Rectangle(
                        (_x(0), _y(y + self.row_h)), edges[-1] / PAGE[0], self.row_h / PAGE[1],
                        color="0.94", lw=0, zorder=-1,
                    )
                )  # fmt: skip
            for i, cell in enumerate(row):
                self._cell(fig, cell, i, edges, y + self.row_h * 0.72)
            y += self.row_h

    def _cell(
        self, fig: Figure, text: str, i: int, edges: list[float], y: float, bold: bool = False
    ) -> None:
        align = self.align[i]
        if align == "l":
            x, ha = edges[i] + _PAD * _PT, "left"
        elif align == "r":
            x, ha = edges[i + 1] - _PAD * _PT, "right"
        else:
            x, ha = (edges[i] + edges[i + 1]) / 2, "center"
        fig.text(
            _x(x), _y(y), text, fontsize=self.size, ha=ha, va="baseline",
            weight="bold" if bold else "normal", parse_math=False,
        )  # fmt: skip


def _column_widths(
    header: Sequence[str], rows: list[list[str]], align: Sequence[str], size: float
) -> list[float]:
    """Column widths in points: the widest cell or header word, filling the page's width."""
    room = WIDTH / _PT
    widths = []
    for i, head in enumerate(header):
        cells = {row[i] for row in rows}
        widest = max((text_width(c, size) for c in cells), default=0.0)
        word = max(text_width(w, size, True) for w in head.split(" "))
        widths.append(max(widest, word) + 2 * _PAD)
    excess = sum(widths) - room
    flexible = [i for i, a in enumerate(align) if a == "l"]
    if excess > 0 and flexible:
        share = sum(widths[i] for i in flexible)
        for i in flexible:
            widths[i] = max(widths[i] - excess * widths[i] / share, 40.0)
        for row in rows:
            for i in flexible:
                row[i] = _shorten(row[i], size, False, widths[i] - 2 * _PAD)
    total = sum(widths)
    if total < room:
        widths = [w * room / total for w in widths]
    return widths


@dataclass
class Signature(Block):
    """A place and date, a line to sign on, and the signer's lines under it, centred."""

    above: str
    below: Sequence[str]
    size: float = 9.0
    keep_with_previous: bool = True

    def __post_init__(self) -> None:
        self.height = 0.25 + 0.5 + len(self.below) * self.size * 1.4 * _PT + 0.05

    def draw(self, fig: Figure, top: float) -> None:
        from matplotlib.lines import Line2D

        middle = _x(WIDTH / 2)
        y = top + 0.2
        fig.text(middle, _y(y), self.above, fontsize=self.size, ha="center", parse_math=False)
        y += 0.5
        half = 1.6 / PAGE[0]
        fig.add_artist(Line2D([middle - half, middle + half], [_y(y), _y(y)], color="0.2", lw=0.7))
        for line in self.below:
            y += self.size * 1.4 * _PT
            fig.text(middle, _y(y), line, fontsize=self.size, ha="center", parse_math=False)


@dataclass
class _Placed:
    block: Block
    top: float
    first: int = 0
    last: int = 0


def layout(blocks: Sequence[Block]) -> list[list[_Placed]]:
    """The blocks placed on pages: a list of pages, each a list of placements."""
    pages: list[list[_Placed]] = [[]]
    y = 0.0
    for n, block in enumerate(blocks):
        if isinstance(block, PageBreak):
            if pages[-1]:
                pages.append([])
                y = 0.0
            continue
        need = block.min_height()
        follower = n + 1
        while blocks[follower - 1].keep_with_next and follower < len(blocks):
            need += blocks[follower].min_height()  # the chain moves together
            follower += 1
        if y > 0 and y + min(need, _HEIGHT) > _HEIGHT + 1e-9:
            carried = None
            if any(b.keep_with_previous for b in blocks[n:follower]):
                carried = _last_rows(pages[-1])
            pages.append([])
            y = 0.0
            if carried is not None:
                pages[-1].append(carried)
                table = carried.block
                assert isinstance(table, Table)
                y = table.caption_h + table.head_h + (carried.last - carried.first) * table.row_h
        if isinstance(block, Gap) and y == 0.0:
            continue
        if isinstance(block, Table):
            done = 0
            while True:
                fit = block.rows_fitting(_HEIGHT - y - (block.caption_h if done else 0.0))
                if fit == 0 and y > 0:
                    pages.append([])
                    y = 0.0
                    continue
                end = min(len(block.rows), done + max(fit, 1))
                pages[-1].append(_Placed(block, y, done, end))
                y += block.head_h + (end - done) * block.row_h + (block.caption_h if done else 0)
                done = end
                if done >= len(block.rows):
                    break
                pages.append([])
                y = 0.0
        else:
            pages[-1].append(_Placed(block, y))
            y += block.height
    return [page for page in pages if page]


def _last_rows(page: list[_Placed]) -> _Placed | None:
    """The last ``min_rows`` rows of the table ending ``page``, taken off it (to open the
    next page with them), or None when the page does not end with enough of a table."""
    if not page or not isinstance(page[-1].block, Table):
        return None
    placed, keep = page[-1], page[-1].block.min_rows
    if placed.last - placed.first <= keep:
        return None
    placed.last -= keep
    return _Placed(placed.block, 0.0, placed.last, placed.last + keep)


def render(pages: list[list[_Placed]], footer: Callable[[Figure, int, int], None]) -> list[Figure]:
    """One figure per page; ``footer(fig, number, total)`` draws the page's footer."""
    from matplotlib.figure import Figure

    figures = []
    for number, page in enumerate(pages, start=1):
        fig = Figure(figsize=PAGE)
        for placed in page:
            if isinstance(placed.block, Table):
                placed.block.draw_rows(fig, TOP + placed.top, placed.first, placed.last)
            else:
                placed.block.draw(fig, TOP + placed.top)
        footer(fig, number, len(pages))
        figures.append(fig)
    return figures


def footer_line(fig: Figure, left: str, right: str) -> None:
    """A rule and one line of small grey text at the bottom margin."""
    from matplotlib.lines import Line2D

    y = _y(PAGE[1] - BOTTOM + 0.3)
    fig.add_artist(Line2D([_x(0), _x(WIDTH)], [y, y], color="0.75", linewidth=0.5))
    room = WIDTH / _PT - text_width(right, 7.5) - 20
    fig.text(_x(0), y - 0.15 / PAGE[1], _shorten(left, 7.5, False, room), fontsize=7.5,
             color="0.4", va="top", parse_math=False)  # fmt: skip
    fig.text(_x(WIDTH), y - 0.15 / PAGE[1], right, fontsize=7.5, color="0.4", va="top",
             ha="right")  # fmt: skip


def _x(inches: float) -> float:
    """Figure fraction of ``inches`` from the left margin."""
    return (LEFT + inches) / PAGE[0]


def _y(inches: float) -> float:
    """Figure fraction of ``inches`` below the page's top."""
    return 1 - inches / PAGE[1]
