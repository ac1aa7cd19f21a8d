"""A crash does not wedge the platform: real `mhbench run` processes, real signals.

One chain of runs on one home, each stopped at a stage: SIGKILL at ingestion, in dbt and
in publish (dbt, run by the worker `mhbench run` starts, ends with the killed run; the next
run reclaims the dead one: marked failed, slot freed); SIGINT and SIGTERM while waiting for the warehouse, in the gate, in dbt, at
ingestion and in publish (the run exits 130 or 143 within the bound, canceled, slot
freed, no release half-made). The runs publish drafts: a final release would need
approvals, and those need a completed build. A last run completes, and every inbox file is registered
exactly once. One chain rather than a test per case: each case costs a run's start, and
the final full cycle is paid once.

The stages are reached with the pause hooks of runtime/pause.py (MHBENCH_PAUSE_AT,
MHBENCH_PUBLISH_PAUSE_AT), and for dbt by waiting for the `dbt build` child process.
"""

from __future__ import annotations

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
            # drafts: a final release needs approvals, which need a completed build first
            [sys.executable, "-m", "cli.app", "run", "--draft"],
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

    def dbt_worker(self) -> int:
        """The pid of the dbt worker `mhbench run` started ahead."""
        workers = [
            p for p in _children(self.process.pid) if "orchestration.dbt_worker " in _cmdline(p)
        ]
        assert len(workers) == 1, f"one dbt worker: {workers}\n{self.output}"
        return workers[0]

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


def _assert_ends(pid: int, why: str, *, stays: str = "") -> None:
    """`pid` ends within the bound; while it lives, its command line holds `stays`."""
    deadline = time.monotonic() + STOP_BOUND_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        command = _cmdline(pid)
        assert not command or stays in command, f"{why}, but it became {command!r}"
        time.sleep(0.05)
    assert not _alive(pid), why


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
    """A home with one collection year of sample returns, SE's held back to arrive later."""
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    home = Home(tmp_path / "home").ensure()
    generate_sample(home, years=range(2024, 2025), participants=LATER_FIRST)
    return home.root


# Participants whose 2024 returns are in the inbox from the start (SE's arrives later).
LATER_FIRST = ["AU", "CA-ON", "GB-ENG", "GB-SCT", "GB-WLS", "IE", "NL", "NO", "NZ"]


def _assert_recovered(home: Path, final: Cli) -> None:
    """The last run completes; nothing is left running or held; every file is in, once."""
    from ingestion.registry import file_sha256, inbox_files
    from runtime.home import Home

    assert final.finish() == 0, final.output
    statuses = _runs(home)
    assert "STARTED" not in statuses.values() and "STARTING" not in statuses.values()
    assert _held_slots(home) == []
    inbox = [file_sha256(path) for path, _ in inbox_files(Home(home))]
    registered = _registered(home)
    assert len(registered) == len(set(registered)), "a file registered twice"
    assert set(registered) == set(inbox), "every inbox file registered"
    from publishing.store import list_releases

    assert len(list_releases(Home(home), drafts=True)) == 1, "one complete release"


def _sigkill(cli: Cli, stage: str) -> str:
    cli.process.kill()
    cli.finish()
    return stage


def test_kill_and_stop_at_each_stage_then_recover(home):
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    killed: dict[str, str] = {}  # stage -> run id (SIGKILL)
    stopped: dict[str, tuple[str, int, float]] = {}  # stage -> (run id, exit code, seconds)

    # SIGKILL while ingesting: the run stays STARTED and keeps its slot
    cli = Cli(home, {"MHBENCH_PAUSE_AT": "ingest-registered"})
    cli.wait_for("mhbench-paused ingest-registered")
    _sigkill(cli, "ingest")
    killed["ingest"] = _newest_run(home)
    assert _runs(home)[killed["ingest"]] == "STARTED", "a SIGKILLed run stays STARTED..."
    assert _held_slots(home) == [killed["ingest"]], "... and keeps its slot"

    # SIGKILL in dbt: this run first reclaims the one killed while ingesting
    cli = Cli(home)
    cli.wait_for(f"Reclaimed run {killed['ingest'][:8]} (draft_release) marked failed: process")
    dbt_pid = cli.wait_for_dbt()
    worker_pid = cli.dbt_worker()
    _sigkill(cli, "dbt")
    killed["dbt"] = _newest_run(home)
    _assert_ends(worker_pid, "the dbt worker ends with the run that was killed")
    # the launcher dagster-dbt started as `dbt` ends too, and never becomes dbt's own
    # executable (an orphan building for a dead run), whether the worker took its command yet
    _assert_ends(dbt_pid, "dbt ends with the run that was killed", stays="dbt_worker_client")

    # SIGINT while waiting for the warehouse, then SIGTERM in the gate
    holder = Cli(home, {"MHBENCH_PAUSE_AT": "gate"})
    holder.wait_for("mhbench-paused gate")
    holder_id = _newest_run(home)
    waiting = Cli(home)
    waiting.wait_for(f"waiting for the warehouse: run {holder_id[:8]} (draft_release, started")
    code, seconds = waiting.stop(signal.SIGINT)
    stopped["waiting"] = (_newest_run(home), code, seconds)
    assert _held_slots(home) == [holder_id], "the waiting run held nothing; the holder still does"
    assert "Stopped by SIGINT while waiting for the warehouse" in waiting.output
    code, seconds = holder.stop(signal.SIGTERM)
    stopped["gate"] = (holder_id, code, seconds)
    assert "Stopped by SIGTERM while running marts__" in holder.output
    assert _held_slots(home) == []

    # SIGINT in dbt: dbt is stopped with the run
    cli = Cli(home)
    dbt_pid = cli.wait_for_dbt()
    code, seconds = cli.stop(signal.SIGINT)
    stopped["dbt"] = (_newest_run(home), code, seconds)
    assert _held_slots(home) == [], "a stopped run frees its slot itself"
    _assert_ends(dbt_pid, "dbt was stopped with the run")

    # SIGTERM while ingesting (SE's return has just arrived)
    generate_sample(Home(home), years=range(2024, 2025), participants=["SE"], include_bad=False)
    cli = Cli(home, {"MHBENCH_PAUSE_AT": "ingest-registered"})
    cli.wait_for("mhbench-paused ingest-registered")
    code, seconds = cli.stop(signal.SIGTERM)
    stopped["ingest"] = (_newest_run(home), code, seconds)
    assert _held_slots(home) == []

    # SIGINT in publish, then SIGKILL in publish: a release never appears half-made
    cli = Cli(home, {"MHBENCH_PUBLISH_PAUSE_AT": "after-copy"})
    cli.wait_for("mhbench-publish-paused after-copy")
    code, seconds = cli.stop(signal.SIGINT)
    stopped["publish"] = (_newest_run(home), code, seconds)
    assert _held_slots(home) == []
    cli = Cli(home, {"MHBENCH_PUBLISH_PAUSE_AT": "after-copy"})
    cli.wait_for("mhbench-publish-paused after-copy")
    _sigkill(cli, "publish")
    killed["publish"] = _newest_run(home)
    from publishing.store import list_releases

    assert list_releases(Home(home), drafts=True) == [], "no release was completed yet"
    assert not (home / "releases" / "current").exists(), "a draft never becomes current"

    final = Cli(home)
    _assert_recovered(home, final)

    statuses = _runs(home)
    for stage, run_id in killed.items():
        assert statuses[run_id] == "FAILURE", f"the run killed at {stage} is marked failed"
    assert "is gone: killed or crashed" in final.output
    expected_codes = {"waiting": 130, "gate": 143, "dbt": 130, "ingest": 143, "publish": 130}
    for stage, (run_id, code, seconds) in stopped.items():
        assert code == expected_codes[stage], f"{stage}: exit {code}"
        assert seconds < STOP_BOUND_SECONDS, f"{stage}: {seconds:.1f} s from the signal to exit"
        assert statuses[run_id] == "CANCELED", f"the run stopped at {stage} is canceled"
    print("seconds from signal to exit:", {k: round(v[2], 2) for k, v in stopped.items()})
