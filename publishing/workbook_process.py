"""The release workbook, written by a process of its own while the release's pages render.

The workbook of a final release is every published mart, cell by cell (about 2 s on the
sample, in XlsxWriter); the report beside it draws its charts for as long. On two cores the
two are written at once: `start_release_workbook` starts `python -m publishing.workbook_process`
(runtime/module_process.py), and the release waits for it before its files are hashed. It
reads the release's DuckDB file read-only, as the pages do.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from publishing.xlsx_export import Readme, write_release_workbook
from runtime.module_process import ModuleProcess, answer, start_module_process


def start_release_workbook(
    release_db: Path, path: Path, marts: list[str], readme: Readme
) -> ModuleProcess:
    request = {
        "release_db": str(release_db),
        "path": str(path),
        "marts": list(marts),
        "readme": dataclasses.asdict(readme),
    }
    return start_module_process(
        "publishing.workbook_process", request, f"writing the workbook {path.name}"
    )


def _readme(data: dict) -> Readme:
    return Readme(
        title=data["title"],
        facts=[tuple(f) for f in data["facts"]],
        sheets=[tuple(s) for s in data["sheets"]],
        flags=[tuple(f) for f in data["flags"]],
        disclosure=data["disclosure"],
    )


def _write(request: dict) -> str:
    path = Path(request["path"])
    try:
        write_release_workbook(
            Path(request["release_db"]), path, request["marts"], _readme(request["readme"])
        )
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written workbook
        raise
    return str(path)


if __name__ == "__main__":
    sys.exit(answer(_write))
