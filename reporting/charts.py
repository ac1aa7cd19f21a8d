"""Charts of the benchmarking report, drawn with matplotlib (Agg) as small inline SVG.

Text stays text in the SVG (`svg.fonttype: none`), so a chart weighs a few kilobytes,
scales to the page and prints sharply, and a reader can search and copy participant
names. Element ids are prefixed per chart, so many charts can live in one HTML page.
A chart is returned as a `Chart`, which the page's template writes into the page.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from ingestion.report import shorten
from reporting.chart_cache import PARTS, ChartCache

HIGHLIGHT = "#0b61a4"
OTHERS = "#b9c3ce"
OTHER_LINES = "#c4cad2"
MEDIAN = "#222222"
QUARTILE = "#6b6b6b"
MUTED = "#767676"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mhbench",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.linewidth": 0.6,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "axes.grid": False,
    "path.simplify": True,
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    note: str = ""  # shown instead of a bar when value is None ("suppressed", "not known")
    highlight: bool = False


@contextlib.contextmanager
def chart_style() -> Iterator[None]:
    """Agg backend and the report's style, without touching the caller's matplotlib state."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(_RC):
        yield


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|xlink:href="#|href="#)([^)"]+)')


@dataclass(frozen=True)
class Chart:
    """A chart to inline in a page: matplotlib's <svg> element, taken apart.

    The template (`_macros.html`, `chart`) writes the root tag itself with the page's class,
    role and aria-label, so the label (an indicator's name) is escaped by the engine like
    any other text; `attributes` and `content` are matplotlib's, inserted as they are.
    """

    attributes: Markup  # of the root <svg>: xmlns, viewBox, version (width, height removed)
    content: Markup  # everything inside the root element
    css_class: str
    label: str

    def parts(self) -> dict[str, str]:
        """The chart as plain text, to keep (reporting/chart_cache.py)."""
        return {name: str(getattr(self, name)) for name in PARTS}

    @classmethod
    def from_parts(cls, parts: dict[str, str]) -> Chart:
        """A chart kept with `parts`: the SVG that `_svg` made of matplotlib's, drawn before."""
        return cls(
            Markup(parts["attributes"]),
            Markup(parts["content"]),
            parts["css_class"],
            parts["label"],
        )


def _svg(fig, prefix: str, css_class: str, label: str) -> Chart:
    """The figure as a Chart to inline: ids prefixed, sized by CSS, labelled."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    head_end = text.index(">")
    attributes = re.sub(r'\s(width|height)="[^"]*"', "", text[len("<svg") : head_end]).strip()
    content = text[head_end + 1 : text.rindex("</svg>")]
    # The one place where reporting/ marks text as safe HTML (with `Chart.from_parts`, the same
    # SVG kept in the home's chart cache): this is SVG that matplotlib wrote, and matplotlib
    # escapes every text it draws (participant names, units) and every attribute value.
    # Nothing else is inserted unescaped in any page.
    return Chart(Markup(attributes), Markup(content), css_class, label)


def _kept(draw: Callable[..., Chart]) -> Callable[..., Chart]:
    """A chart method that takes the chart from the Charts' cache when it was drawn before
    from the same arguments, and keeps what it draws."""

    @functools.wraps(draw)
    def chart(self: Charts, *arguments, **options) -> Chart:
        if self.cache is None:
            return draw(self, *arguments, **options)
        key = self.cache.key(draw.__name__, arguments, options)
        kept = self.cache.get(key)
        if kept is not None:
            return Chart.from_parts(kept)
        drawn = draw(self, *arguments, **options)
        self.cache.put(key, drawn.parts())
        return drawn

    return chart


class Charts:
    """Draws the report's charts, reusing one figure per kind of chart.

    Creating a figure and its axes costs more than drawing the data, so the data artists
    are removed after each chart and the axes reused: with 2 charts for each of 50+
    indicators, that halves the time of a report. With a `cache` (reporting/chart_cache.py),
    a chart drawn before from the same data is taken from it instead. Use as a context
    manager.
    """

    def __init__(self, cache: ChartCache | None = None) -> None:
        self._style = chart_style()
        self._position = None
        self._trend = None
        self.cache = cache

    def __enter__(self) -> Charts:
        self._style.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._style.__exit__(*exc)
        if self.cache is not None:
            self.cache.prune()

    @staticmethod
    def _axes(fig_and_axes, size: tuple[float, float], rect: tuple[float, float, float, float]):
        from matplotlib.figure import Figure

        if fig_and_axes is None:
            fig = Figure(figsize=size)
            ax = fig.add_axes(rect)
        else:
            fig, ax = fig_and_axes
            for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections]:
                artist.remove()
            fig.set_size_inches(size)
            ax.set_position(rect)
            ax.relim()
        return fig, ax

    @_kept
    def position(
        self,
        bars: Sequence[Bar],
        median: float | None,
        p25: float | None,
        p75: float | None,
        unit: str,
        prefix: str,
        label: str,
    ) -> Chart:
        """Horizontal bars, highest first; median (solid) and quartiles (dashed) as lines.

        Participants without a value are listed under the bars with the reason instead.
        """
        shown = sorted((b for b in bars if b.value is not None), key=lambda b: -b.value)
        rows = shown + [b for b in bars if b.value is None]
        height = 0.55 + 0.19 * max(len(rows), 3)
        axes_height = 1 - 0.55 / height
        fig, ax = self._position = self._axes(
            self._position, (4.4, height), (0.29, 0.42 / height, 0.67, axes_height)
        )
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)  # no rows: an empty, non-degenerate axis
        top = max([b.value for b in shown] + [v for v in (median, p25, p75) if v is not None] + [0])
        ax.set_xlim(0, top * 1.05 if top > 0 else 1)
        # Bars as thick line segments: one artist for all of them (and a small SVG).
        bar_points = 0.72 * axes_height * height * 72 / max(len(rows), 1)
        for highlight, color in ((False, OTHERS), (True, HIGHLIGHT)):
            ys = [i for i, b in enumerate(shown) if b.highlight == highlight]
            if ys:
                segments = ax.hlines(
                    ys,
                    0,
                    [shown[i].value for i in ys],
                    colors=color,
                    linewidth=bar_points,
                    capstyle="butt",
                )
                if highlight:
                    segments.set_gid("highlight")
        for i, bar in enumerate(rows):
            if bar.value is None:
                ax.text(top * 0.01, i, bar.note, va="center", color=MUTED, style="italic")
        for value, style, width in ((median, "-", 1.2), (p25, "--", 0.8), (p75, "--", 0.8)):
            if value is not None:
                ax.axvline(
                    value,
                    color=MEDIAN if style == "-" else QUARTILE,
                    linestyle=style,
                    linewidth=width,
                )
        # Participant names as plain text, not tick labels: ticks are the slow part of a chart.
        ax.set_yticks([])
        names = ax.get_yaxis_transform()
        for i, bar in enumerate(rows):
            ax.text(
                -0.015,
                i,
                bar.label,
                transform=names,
                ha="right",
                va="center",
                color=HIGHLIGHT if bar.highlight else "#333333",
                fontweight="bold" if bar.highlight else "normal",
            )
        ax.xaxis.set_major_locator(_locator(5))
        ax.set_xlabel(unit, color="#444444")
        ax.spines["left"].set_visible(False)
        return _svg(fig, prefix, "chart-position", label)

    @_kept
    def trend(
        self,
        series: dict[str, list[tuple[int, float | None]]],
        median: list[tuple[int, float | None]],
        highlight: str | None,
        breaks: Sequence[int],
        unit: str,
        prefix: str,
        label: str,
    ) -> Chart:
        """Value over the years: one thin grey line per participant, the median dashed, and
        the highlighted participant bold, with a hollow diamond where its series breaks."""
        from matplotlib.collections import LineCollection

        fig, ax = self._trend = self._axes(self._trend, (3.4, 2.3), (0.18, 0.15, 0.78, 0.78))
        years = sorted(
            {y for points in series.values() for y, _ in points} | {y for y, _ in median}
        )
        others = []
        for code, points in series.items():
            if code != highlight:
                xs, ys = _xy(points)
                if xs:  # a participant without a value in any year draws no line
                    others.append(list(zip(xs, ys, strict=True)))
        ax.add_collection(LineCollection(others, colors=OTHER_LINES, linewidths=0.8))
        xs, ys = _xy(median)
        ax.plot(xs, ys, color=MEDIAN, linewidth=1.2, linestyle="--")
        if highlight and highlight in series:
            xs, ys = _xy(series[highlight])
            ax.plot(
                xs, ys, color=HIGHLIGHT, linewidth=2.2, marker="o", markersize=3.5, gid="highlight"
            )
            broken = [(x, y) for x, y in zip(xs, ys, strict=True) if x in breaks and y == y]
            if broken:
                ax.plot(
                    [x for x, _ in broken],
                    [y for _, y in broken],
                    linestyle="none",
                    marker="D",
                    markersize=7,
                    markerfacecolor="white",
                    markeredgecolor=HIGHLIGHT,
                    markeredgewidth=1.4,
                )
        ax.relim()
        ax.autoscale_view()
        ax.margins(y=0.12)
        if years:
            ax.set_xticks(years, [str(y) for y in years])
            ax.set_xlim(years[0] - 0.3, years[-1] + 0.3)
        ax.yaxis.set_major_locator(_locator(4))
        # A long unit is in the indicator's heading already; a clipped axis label helps no one.
        ax.set_ylabel(unit if len(unit) <= 24 else "", color="#444444")
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
        return _svg(fig, prefix, "chart-trend", label)

    @_kept
    def enquiries(self, rows: Sequence[EnquiryBar], prefix: str, label: str) -> Chart:
        """Distance from the median in interquartile ranges, one bar per line of enquiry
        (first on top): right of the line above the median, left below; coloured better,
        worse or without a direction."""
        from matplotlib.figure import Figure

        height = 0.55 + 0.24 * max(len(rows), 2)
        fig = Figure(figsize=(6.4, height))
        ax = fig.add_axes((0.5, 0.42 / height, 0.47, 1 - 0.55 / height))
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        reach = max([abs(r.distance) for r in rows] + [1.0])
        ax.set_xlim(-reach * 1.1, reach * 1.1)
        for i, row in enumerate(rows):
            ax.barh(
                i, row.distance, height=0.62, color=DIRECTION_COLOURS.get(row.direction, OTHERS)
            )
        ax.axvline(0, color=MEDIAN, linewidth=1.2)
        ax.set_yticks([])
        names = ax.get_yaxis_transform()
        for i, row in enumerate(rows):
            ax.text(
                -0.02,
                i,
                shorten(row.label, 44),
                transform=names,
                ha="right",
                va="center",
                color="#333333",
            )
        ax.xaxis.set_major_locator(_locator(5))
        ax.set_xlabel("interquartile ranges from the median", color="#444444")
        ax.spines["left"].set_visible(False)
        return _svg(fig, prefix, "chart-enquiries", label)


@dataclass(frozen=True)
class EnquiryBar:
    label: str  # the indicator
    distance: float  # from the median, in interquartile ranges
    direction: str  # better, worse, neutral, at_median (mart_lines_of_enquiry.direction)


DIRECTION_COLOURS = {"better": "#2f7d4f", "worse": "#b5452b", "neutral": "#8a96a3"}


def _xy(points: list[tuple[int, float | None]]) -> tuple[list[int], list[float]]:
    """Years and values; a missing value is NaN, so the line has a gap there."""
    points = sorted(points)
    return [x for x, _ in points], [float("nan") if v is None else v for _, v in points]


def _locator(n: int):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n, min_n_ticks=3)
