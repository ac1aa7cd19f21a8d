"""The release workbook, written by a process of its own while the release's pages render.

The workbook of a release is every published mart, cell by cell (about 2 s on the sample,
in XlsxWriter); the report beside it draws its charts for as long. On two cores the two
are written at once: `start_release_workbook` starts `python -m publishing.workbook_process`
with what it needs on stdin (JSON), and `WorkbookJob.wait` returns once the file is
written, or raises with what the process said. It reads the release's DuckDB file
read-only, as the pages do.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from publishing.xlsx_export import Readme, write_release_workbook

# A workbook that takes longer than this has gone wrong (it is seconds at 50 x 10).
TIMEOUT_S = 900


class WorkbookFailed(RuntimeError):
    """The workbook process failed: the release is not published."""


@dataclass
class WorkbookJob:
    process: subprocess.Popen
    path: Path
    stderr: IO[bytes]  # what the process said (a temporary file: no pipe to fill)

    def wait(self) -> Path:
        try:
            self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop()
            raise WorkbookFailed(f"the workbook {self.path.name} took over {TIMEOUT_S} s") from None
        self.stderr.seek(0)
        said = self.stderr.read().decode("utf-8", errors="replace").strip()[-2000:]
        self.stderr.close()
        if self.process.returncode != 0 or not self.path.is_file():
            raise WorkbookFailed(f"writing the workbook {self.path.name} failed: {said}")
        return self.path

    def stop(self) -> None:
        """Stop the process if it still runs (the release failed before it was needed)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_release_workbook(
    release_db: Path, path: Path, marts: list[str], readme: Readme
) -> WorkbookJob:
    request = {
        "release_db": str(release_db),
        "path": str(path),
        "marts": list(marts),
        "readme": dataclasses.asdict(readme),
    }
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by WorkbookJob.wait)
    process = subprocess.Popen(
        [sys.executable, "-m", "publishing.workbook_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(request).encode("utf-8"))
    process.stdin.close()
    return WorkbookJob(process, path, stderr)


def _readme(data: dict) -> Readme:
    return Readme(
        title=data["title"],
        facts=[tuple(f) for f in data["facts"]],
        sheets=[tuple(s) for s in data["sheets"]],
        flags=[tuple(f) for f in data["flags"]],
        disclosure=data["disclosure"],
    )


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        write_release_workbook(
            Path(request["release_db"]),
            Path(request["path"]),
            request["marts"],
            _readme(request["readme"]),
        )
    except Exception as exc:  # said once, in a line the release's error carries
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        Path(request["path"]).unlink(missing_ok=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
