"""A crash does not wedge the platform: real `mhbench run` processes, real signals.

SIGKILL at each stage, then the next run reclaims the dead one (marked failed, slot
freed, its orphaned dbt stopped) and every inbox file ends up registered exactly once.
SIGINT and SIGTERM stop a run within a bound at each stage: the run is canceled, the
slot is freed and `current` is unchanged or complete.

The stages are reached with the pause hooks of runtime/pause.py (MHBENCH_PAUSE_AT,
MHBENCH_PUBLISH_PAUSE_AT), and for dbt by waiting for the `dbt build` child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, mhbench_env

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("crash_recovery")]

STOP_BOUND_SECONDS = 10  # issue: a signal stops a run within 10 s
STAGE_TIMEOUT = 300


class Cli:
    """A `mhbench run` in its own process, its output collected as it comes."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.app", "run"],
            cwd=REPO,
            env={**mhbench_env(home), "COLUMNS": "200", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = STAGE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(5)
                if any(text in line for line in self.lines):
                    return
                raise AssertionError(
                    f"exited {self.process.returncode} before {text!r}:\n{self.output}"
                )
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output}")

    def wait_for_dbt(self, timeout: float = STAGE_TIMEOUT) -> int:
        """The pid of the `dbt build` child once it runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in _children(self.process.pid):
                if "build" in _cmdline(pid) and "dbt" in _cmdline(pid):
                    return pid
            assert self.process.poll() is None, f"exited before dbt:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"dbt did not start within {timeout} s:\n{self.output}")

    def stop(self, sig: signal.Signals) -> tuple[int, float]:
        """Send `sig`; the exit code and the seconds it took to exit."""
        sent = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"{sig.name} did not stop the run in 60 s:\n{self.output}"
            ) from None
        self._reader.join(5)
        return code, time.monotonic() - sent

    def finish(self, timeout: float = 900) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(5)
        return code


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _instance(home: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home / "dagster"))


def _runs(home: Path) -> dict[str, str]:
    """Status of every run, by run id."""
    with _instance(home) as instance:
        return {r.run_id: r.status.value for r in instance.get_runs()}


def _held_slots(home: Path) -> list[str]:
    with _instance(home) as instance:
        info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
        return [slot.run_id for slot in info.claimed_slots]


def _newest_run(home: Path) -> str:
    with _instance(home) as instance:
        return instance.get_runs(limit=1)[0].run_id


def _registered(home: Path) -> list[str]:
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        return [r[0] for r in con.execute("select file_sha256 from raw.submissions").fetchall()]


@pytest.fixture
def home(tmp_path) -> Path:
    """A home with one collection year of sample returns (12 files: a quick cycle)."""
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    home = Home(tmp_path / "home").ensure()
    generate_sample(home, years=range(2024, 2025))
    return home.root


def _assert_recovered(home: Path, final: Cli) -> None:
    assert final.finish() == 0, final.output
    statuses = _runs(home)
    assert "STARTED" not in statuses.values() and "STARTING" not in statuses.values()
    assert _held_slots(home) == []
    from ingestion.registry import file_sha256, inbox_files
    from runtime.home import Home

    inbox = [file_sha256(path) for path, _ in inbox_files(Home(home))]
    registered = _registered(home)
    assert sorted(registered) == sorted(set(registered)), "a file registered twice"
    assert sorted(set(registered)) == sorted(set(inbox)), "every inbox file registered"
    current = home / "releases" / "current"
    assert (current / "manifest.json").exists()


def test_sigkill_at_each_stage_then_the_next_run_recovers(home):
    killed: list[tuple[str, str]] = []  # (stage, run id)

    ingesting = Cli(home, {"MHBENCH_PAUSE_AT": "ingest-registered"})
    ingesting.wait_for("mhbench-paused ingest-registered")
    ingesting.process.kill()
    ingesting.finish()
    killed.append(("ingest", _newest_run(home)))
    assert _runs(home)[killed[-1][1]] == "STARTED", "a SIGKILLed run stays STARTED..."
    assert _held_slots(home) == [killed[-1][1]], "... and keeps its slot"

    building = Cli(home)
    building.wait_for("marked failed")  # it reclaimed the run killed while ingesting
    dbt_pid = building.wait_for_dbt()
    building.process.kill()
    building.finish()
    killed.append(("dbt", _newest_run(home)))

    gate = Cli(home, {"MHBENCH_PAUSE_AT": "gate"})
    gate.wait_for("mhbench-paused gate")
    assert not _alive(dbt_pid), "the orphaned dbt of the killed run was stopped"
    gate.process.kill()
    gate.finish()
    killed.append(("gate", _newest_run(home)))

    publishing = Cli(home, {"MHBENCH_PUBLISH_PAUSE_AT": "after-copy"})
    publishing.wait_for("mhbench-publish-paused after-copy")
    publishing.process.kill()
    publishing.finish()
    killed.append(("publish", _newest_run(home)))
    assert not (home / "releases" / "current").exists(), "no release was completed yet"

    final = Cli(home)
    _assert_recovered(home, final)
    statuses = _runs(home)
    for stage, run_id in killed:
        assert statuses[run_id] == "FAILURE", f"the run killed at {stage} is marked failed"
    assert f"run {killed[-1][1][:8]} (annual_cycle) marked failed: process" in final.output
    assert "is gone: killed or crashed" in final.output


def test_sigint_and_sigterm_stop_a_run_at_each_stage(home):
    timings: dict[str, float] = {}

    # waiting: another run holds the warehouse (paused in the gate)
    holder = Cli(home, {"MHBENCH_PAUSE_AT": "gate"})
    holder.wait_for("mhbench-paused gate")
    holder_id = _newest_run(home)
    waiting = Cli(home)
    waiting.wait_for(f"waiting for the warehouse: run {holder_id[:8]} (annual_cycle, started")
    waiting_id = _newest_run(home)
    code, timings["waiting"] = waiting.stop(signal.SIGINT)
    assert code == 130, waiting.output
    assert "Stopped by SIGINT while waiting for the warehouse" in waiting.output
    assert _runs(home)[waiting_id] == "CANCELED"

    # the gate: SIGTERM
    code, timings["gate"] = holder.stop(signal.SIGTERM)
    assert code == 143, holder.output
    assert _runs(home)[holder_id] == "CANCELED"
    assert _held_slots(home) == []

    # dbt: SIGINT stops the dbt subprocess too
    building = Cli(home)
    dbt_pid = building.wait_for_dbt()
    code, timings["dbt"] = building.stop(signal.SIGINT)
    assert code == 130, building.output
    deadline = time.monotonic() + STOP_BOUND_SECONDS
    while _alive(dbt_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(dbt_pid), "dbt was stopped with the run"

    # ingesting: SIGTERM
    ingesting = Cli(home, {"MHBENCH_PAUSE_AT": "ingest-registered"})
    ingesting.wait_for("mhbench-paused ingest-registered")
    code, timings["ingest"] = ingesting.stop(signal.SIGTERM)
    assert code == 143, ingesting.output

    # publishing: SIGINT; current stays as it was (none yet)
    publishing = Cli(home, {"MHBENCH_PUBLISH_PAUSE_AT": "after-copy"})
    publishing.wait_for("mhbench-publish-paused after-copy")
    code, timings["publish"] = publishing.stop(signal.SIGINT)
    assert code == 130, publishing.output
    assert not (home / "releases" / "current").exists()

    for stage, seconds in timings.items():
        assert seconds < STOP_BOUND_SECONDS, f"{stage}: {seconds:.1f} s to stop"
    assert set(_runs(home).values()) <= {"CANCELED", "FAILURE"}
    assert _held_slots(home) == []
    print("seconds from signal to exit:", {k: round(v, 2) for k, v in timings.items()})

    _assert_recovered(home, Cli(home))
    if os.environ.get("MHBENCH_TIMINGS"):
        Path(os.environ["MHBENCH_TIMINGS"]).write_text(repr(timings))
