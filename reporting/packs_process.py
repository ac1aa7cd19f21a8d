"""Draft packs shared with a process of their own (runtime/module_process.py): a draft has no
workbook process, so its second core is free while the release step renders the report and
the packs (4.8 s of one core for the 50 packs at 50 participants x 10 years, beside a report
that takes 0.7 s with its charts kept and 4.7 s drawing them all).

The two take the packs from either end of one list, each claiming a pack before writing it
(a claim file, created exclusively, in the packs' folder): the helper from the first, the
release step from the last once its own pages are written. They meet wherever their speeds
put them, so neither waits for a share fixed in advance. The process reads the release being
published read-only, and draws what charts it needs through the home's chart cache.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from runtime.module_process import ModuleProcess, answer, start_module_process


def pack_claims(folder: Path) -> Callable[[str], bool]:
    """`claim(code)`: True for the process that claims the pack first, False for the other."""
    folder.mkdir(parents=True, exist_ok=True)

    def claim(code: str) -> bool:
        try:
            os.close(os.open(folder / f".claim-{code}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    return claim


def start_participant_reports(
    release_folder: Path,
    outputs: dict[str, Path],
    year: int,
    manifest: dict,
    chart_cache: Path | None,
    claims: Path,
) -> ModuleProcess:
    """Start writing the packs `outputs` (participant code -> path, charts=False as every
    draft pack) in their order, each claimed in `claims` first; `wait` answers the paths it
    wrote and the chart cache's counts."""
    request = {
        "release_folder": str(release_folder),
        "outputs": {code: str(path) for code, path in outputs.items()},
        "year": year,
        "manifest": manifest,
        "chart_cache": str(chart_cache) if chart_cache is not None else None,
        "claims": str(claims),
    }
    return start_module_process(
        "reporting.packs_process", request, f"writing draft packs of {len(outputs)} participant(s)"
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
        claim=pack_claims(Path(request["claims"])),
    )
    return {
        "written": [str(path) for path in written],
        "charts_drawn": cache.misses if cache else 0,
        "charts_from_cache": cache.hits if cache else 0,
    }


if __name__ == "__main__":
    sys.exit(answer(_write))
