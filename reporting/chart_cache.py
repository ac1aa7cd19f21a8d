"""Charts drawn before, kept in the home, so that a report draws only the charts whose data
changed (a resubmission changes a few indicators of one participant-year; the report has two
charts for each of 50+ indicators, and matplotlib takes ~18 ms for one).

A chart is a pure function of what it is drawn from (reporting/charts.py): the kind of chart,
its arguments, the code that draws it and the matplotlib that renders it. The key is the
sha256 of all four, so a chart from the cache is the chart that would be drawn. A cached chart
is one small JSON file (runtime/kept_results.py); a file that cannot be read is drawn again,
and a chart not used for `KEEP_DAYS` is removed when a report using the cache is done.

What is kept is what the published reports show (disclosure-controlled values); the cache is
in the home (`cache/charts/`), never in a release.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from runtime.kept_results import KEEP_DAYS, KeptResults

__all__ = ["KEEP_DAYS", "PARTS", "ChartCache"]

# What a kept chart is made of (reporting/charts.py, `Chart.parts`): text, nothing else.
PARTS = ("attributes", "content", "css_class", "label")


@cache
def _drawing_code() -> bytes:
    """What a chart's picture depends on besides its arguments: the drawing code (charts.py,
    with its style) and the matplotlib version."""
    import matplotlib

    from reporting import charts

    source = Path(charts.__file__).read_bytes()
    return hashlib.sha256(source).digest() + matplotlib.__version__.encode()


class ChartCache(KeptResults):
    """Charts by key, in `folder` (created on the first chart kept)."""

    @staticmethod
    def key(kind: str, arguments: tuple, options: dict) -> str:
        """The chart's key: its kind and arguments (their repr: dataclasses, numbers, text and
        containers, in order, since the order is the drawing order) and the drawing code."""
        described = repr((kind, arguments, sorted(options.items()))).encode()
        return hashlib.sha256(_drawing_code() + b"\0" + described).hexdigest()

    def get(self, key: str) -> dict[str, str] | None:
        """The chart kept under `key` (its parts, as `Chart.parts` gave them), or None."""
        return super().get(key, _parts)


def _parts(value: object) -> dict[str, str]:
    """A kept chart's parts, or ValueError for a file that holds something else."""
    if (
        isinstance(value, dict)
        and sorted(value) == sorted(PARTS)
        and all(isinstance(part, str) for part in value.values())
    ):
        return value
    raise ValueError("not a kept chart")
