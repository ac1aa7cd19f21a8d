"""A piece of a release written by a Python process of its own, beside the release step (two
cores): `python -m <module>` with its request on stdin (JSON). The module answers on stdout
(JSON) and exits 0, or says what went wrong on stderr and exits 1. The release's workbook
(publishing/workbook_process.py) and half of many draft packs (reporting/packs_process.py)
are written so. Light to import.

`ModuleProcess.wait` returns the answer or raises `ProcessFailed` with what the process said;
`stop` ends a process the release no longer needs (it failed meanwhile). stdout and stderr
are temporary files, not pipes: a process that says much never blocks on a full pipe.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import IO, Any

# A piece that takes longer than this has gone wrong (seconds at 50 participants x 10 years).
TIMEOUT_S = 900


class ProcessFailed(RuntimeError):
    """The process failed or said nothing: the release is not published."""


@dataclass
class ModuleProcess:
    process: subprocess.Popen
    what: str  # for the error: "writing the workbook mhbench-<id>.xlsx"
    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self, timeout_s: float = TIMEOUT_S) -> Any:
        """The process's answer (its stdout, as JSON), once it has ended."""
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ProcessFailed(f"{self.what} took over {timeout_s:g} s") from None
        said = _text(self.stderr)[-2000:]
        answer = _text(self.stdout)
        if self.process.returncode != 0:
            raise ProcessFailed(f"{self.what} failed: {said}")
        try:
            return json.loads(answer)
        except ValueError:
            raise ProcessFailed(f"{self.what} gave no answer: {answer[-200:]!r} {said}") from None

    def stop(self) -> None:
        """End the process if it still runs, and let go of its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.stdout, self.stderr):
            stream.close()


def _text(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", errors="replace").strip()


def start_module_process(module: str, request: dict, what: str) -> ModuleProcess:
    """Start `python -m module` (this interpreter) with `request` on its stdin."""
    stdout = tempfile.TemporaryFile()  # noqa: SIM115 (closed by ModuleProcess.stop)
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=stdout, stderr=stderr
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(request, default=str).encode("utf-8"))
    process.stdin.close()
    return ModuleProcess(process, what, stdout, stderr)


def answer(run) -> int:
    """A module's main: `run(request)` gives the answer (JSON-serialisable), printed on
    stdout; an error is said once on stderr, exit 1."""
    request = json.loads(sys.stdin.read())
    try:
        result = run(request)
    except Exception as exc:  # said once, in a line the release's error carries
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0
