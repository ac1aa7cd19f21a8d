"""`dbt parse` ahead of the dbt step, for a home's first build of a release kind.

A home keeps dbt's parse of its last build of each release kind (dbt_manifest.parse_state),
and dbt parses the whole project (~5 s) when there is none: the first run of a new home, and
its first final release after the drafts. `mhbench run` then starts that parse itself, in a
process of its own, before it loads the Dagster definitions: it runs beside the CLI's start
and the ingestion of the returns (a parse does not open the warehouse), and the dbt step of
the run in this process waits for it and starts from it (`finish_parse_ahead`).

Only for runs executed by the process that started the parse (the CLI's). Should the parse
fail, or the run never reach its dbt step, nothing is kept and dbt parses as it would have;
a parse that ended well is kept even then. Light to import: no dagster, no dbt.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    PARTIAL_PARSE_FILE,
    dbt_env,
    dbt_executable,
    keep_parse_state,
    parse_state,
    release_kind_vars,
)
from runtime.home import Home
from runtime.processes import process_alive

AHEAD_PREFIX = ".ahead-"  # the parse's target folder in warehouse/dbt-parse/, while it runs
# A parse takes ~5 s here; past this the dbt step stops waiting and dbt parses itself.
WAIT_S = 120

_started: dict[tuple[str, str], ParseAhead] = {}
_lock = threading.Lock()


@dataclass
class ParseAhead:
    process: subprocess.Popen
    target: Path  # the parse's own target folder
    state: Path  # where the home keeps the parse of this release kind

    def finish(self, timeout: float = WAIT_S) -> bool:
        """Wait for the parse and keep it as the home's parse of its kind; whether it was."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return False
        return self._keep()

    def close(self) -> None:
        """At exit: keep a parse that ended well, stop one still running."""
        if self.process.poll() is None:
            self.stop()
        else:
            self._keep()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.target, ignore_errors=True)

    def _keep(self) -> bool:
        parsed = self.target / PARTIAL_PARSE_FILE
        kept = self.process.returncode == 0 and parsed.is_file()
        # a build that ran meanwhile (another process) kept a parse of its own: keep that one
        if kept and not self.state.is_file():
            keep_parse_state(self.target, self.state)
        shutil.rmtree(self.target, ignore_errors=True)
        return kept


def _key(home: Home, release_kind: str) -> tuple[str, str]:
    return (str(home.root.resolve()), release_kind)


def start_parse_ahead(home: Home, release_kind: str) -> ParseAhead | None:
    """Start `dbt parse` for a build of `release_kind` in `home` when the home keeps no parse
    of that kind; the parse, or None (one is kept, or dbt could not be started)."""
    state = parse_state(home.dbt_parse_state, release_kind)
    with _lock:
        if state.is_file() or _key(home, release_kind) in _started:
            return None
        _clear_leftovers(home.dbt_parse_state)
        target = home.dbt_parse_state / f"{AHEAD_PREFIX}{release_kind}-{os.getpid()}"
        target.mkdir(parents=True, exist_ok=True)
        try:
            process = subprocess.Popen(
                [
                    dbt_executable(),
                    "parse",
                    "--quiet",
                    "--vars",
                    release_kind_vars(release_kind),
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    str(target),
                    "--log-path",
                    str(target),
                ],
                cwd=DBT_PROJECT_DIR,
                env=dbt_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
            return None
        ahead = ParseAhead(process, target, state)
        _started[_key(home, release_kind)] = ahead
    atexit.register(ahead.close)
    return ahead


def finish_parse_ahead(home: Home, release_kind: str) -> float | None:
    """For the dbt step: wait for the parse this process started for `home` and the kind, and
    keep it; the seconds waited, or None (no parse was started here, or it failed)."""
    with _lock:
        ahead = _started.pop(_key(home, release_kind), None)
    if ahead is None:
        return None
    started = time.monotonic()
    return time.monotonic() - started if ahead.finish() else None


def _clear_leftovers(folder: Path) -> None:
    """Remove the folders of parses whose process is gone (a CLI killed meanwhile)."""
    if not folder.is_dir():
        return
    for leftover in folder.glob(f"{AHEAD_PREFIX}*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid), None):
            shutil.rmtree(leftover, ignore_errors=True)
