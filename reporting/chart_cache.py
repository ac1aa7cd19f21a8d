"""Charts drawn before, kept in the home, so that a report draws only the charts whose data
changed (a resubmission changes a few indicators of one participant-year; the report has two
charts for each of 50+ indicators, and matplotlib takes ~18 ms for one).

A chart is a pure function of what it is drawn from (reporting/charts.py): the kind of chart,
its arguments, the code that draws it and the matplotlib that renders it. The key is the
sha256 of all four, so a chart from the cache is the chart that would be drawn. A cached chart
is one small JSON file; a file that cannot be read is drawn again, and a chart not used for
`KEEP_DAYS` is removed when a report using the cache is done.

What is kept is what the published reports show (disclosure-controlled values); the cache is
in the home (`cache/charts/`), never in a release.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from functools import cache
from pathlib import Path

KEEP_DAYS = 30
# What a kept chart is made of (reporting/charts.py, `Chart.parts`): text, nothing else.
PARTS = ("attributes", "content", "css_class", "label")
_SUFFIX = ".json"


@cache
def _drawing_code() -> bytes:
    """What a chart's picture depends on besides its arguments: the drawing code (charts.py,
    with its style) and the matplotlib version."""
    import matplotlib

    from reporting import charts

    source = Path(charts.__file__).read_bytes()
    return hashlib.sha256(source).digest() + matplotlib.__version__.encode()


class ChartCache:
    """Charts by key, in `folder` (created on the first chart kept)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0
        self.not_kept: str | None = None  # why the last chart that could not be kept was not

    @staticmethod
    def key(kind: str, arguments: tuple, options: dict) -> str:
        """The chart's key: its kind and arguments (their repr: dataclasses, numbers, text and
        containers, in order, since the order is the drawing order) and the drawing code."""
        described = repr((kind, arguments, sorted(options.items()))).encode()
        return hashlib.sha256(_drawing_code() + b"\0" + described).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    def get(self, key: str) -> dict[str, str] | None:
        """The chart kept under `key` (its parts, as `Chart.parts` gave them), or None."""
        path = self._path(key)
        try:
            parts = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(parts, dict) or sorted(parts) != sorted(PARTS):
                raise ValueError(f"not a kept chart: {path}")
            if not all(isinstance(value, str) for value in parts.values()):
                raise ValueError(f"not a kept chart: {path}")
        except (OSError, ValueError):
            self.misses += 1
            return None
        with contextlib.suppress(OSError):  # a chart used is kept another KEEP_DAYS
            os.utime(path)
        self.hits += 1
        return parts

    def put(self, key: str, parts: dict[str, str]) -> None:
        """Keep a chart's parts under `key` (atomically: a reader never sees half a file).

        A chart that cannot be kept (a full disk, a read-only home) costs its drawing next
        time, never the report: the reason is in `not_kept`, for the caller to log."""
        partial = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(parts), encoding="utf-8")
            partial.replace(self._path(key))
        except OSError as exc:
            self.not_kept = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> int:
        """Remove the charts not used for KEEP_DAYS; how many were removed."""
        limit = (time.time() if now is None else now) - KEEP_DAYS * 86400
        removed = 0
        if not self.folder.is_dir():
            return removed
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another report pruned it meanwhile
                pass
        return removed
