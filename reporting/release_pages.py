"""The pages for people that a release carries: the quality page and the benchmarking report.

The release store calls `write_release_pages` (through the release asset) while the release
folder is still being assembled, so the pages are hashed in its manifest like every file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reporting.benchmark_report import REPORT_FILE, write_benchmark_report
from reporting.chart_cache import ChartCache
from reporting.quality_report import QUALITY_FILE, render_quality_report

__all__ = ["QUALITY_FILE", "REPORT_FILE", "release_page_writer"]


def release_page_writer(
    *, benchmark_report: bool = True, chart_cache: ChartCache | None = None
) -> Callable[[Path, dict], None]:
    """A page writer for `publishing.store.build_release`.

    `benchmark_report=False` leaves out report.html, which needs the dimension marts that a
    hand-made test warehouse may not have; every release of the cycle has it. `chart_cache`:
    the home's charts drawn before (reporting/chart_cache.py).
    """

    def write(folder: Path, manifest: dict) -> None:
        (folder / QUALITY_FILE).write_text(render_quality_report(manifest), encoding="utf-8")
        if benchmark_report:
            write_benchmark_report(folder, manifest=manifest, chart_cache=chart_cache)

    return write
