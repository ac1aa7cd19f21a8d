"""Draft packs written by a process of their own, beside the release step that writes the
others (runtime/module_process.py): a draft has no workbook process, so its second core is
free while the release renders its pages and 50 packs (4.8 s of one core at 50 participants
x 10 years). The process reads the release being published read-only, and draws what charts
it needs through the home's chart cache, as the release step does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runtime.module_process import ModuleProcess, answer, start_module_process


def start_participant_reports(
    release_folder: Path,
    outputs: dict[str, Path],
    year: int,
    manifest: dict,
    chart_cache: Path | None,
) -> ModuleProcess:
    """Start writing the packs `outputs` (participant code -> path, charts=False as every
    draft pack); `wait` answers the paths written and the cache's counts."""
    request = {
        "release_folder": str(release_folder),
        "outputs": {code: str(path) for code, path in outputs.items()},
        "year": year,
        "manifest": manifest,
        "chart_cache": str(chart_cache) if chart_cache is not None else None,
    }
    return start_module_process(
        "reporting.packs_process", request, f"writing {len(outputs)} draft pack(s)"
    )


def _write(request: dict) -> dict:
    from reporting.benchmark_report import write_participant_reports
    from reporting.chart_cache import ChartCache

    cache = ChartCache(Path(request["chart_cache"])) if request["chart_cache"] else None
    written = write_participant_reports(
        Path(request["release_folder"]),
        {code: Path(path) for code, path in request["outputs"].items()},
        year=request["year"],
        charts=False,
        manifest=request["manifest"],
        chart_cache=cache,
    )
    return {
        "written": [str(path) for path in written],
        "charts_drawn": cache.misses if cache else 0,
        "charts_from_cache": cache.hits if cache else 0,
    }


if __name__ == "__main__":
    sys.exit(answer(_write))
