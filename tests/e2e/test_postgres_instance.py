"""The Dagster instance on a real PostgreSQL server (dagster-postgres), chosen by
MHBENCH_DAGSTER_PG alone, as on more than one machine.

One throwaway server for the module (Debian's initdb/pg_ctl, scripts/pg_server.py), one
database per test. The processes of a deployment are started separately, as they would
be on separate machines: one `dagster-daemon`, two `dagster-webserver`s, all reading one
dagster.yaml and the URL from their environment. Faults: the server down when the CLI
starts, and the server restarted while a run executes.

Without PostgreSQL's binaries these tests skip locally (saying how to install them) and
fail under CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from demo.sample_returns import generate_sample
from runtime.home import Home
from scripts.pg_server import INSTALL_HINT, PgServer, PostgresMissing, free_port
from tests.conftest import REPO, mhbench_env
from tests.e2e.dagster_server import dagster_daemon, dagster_server
from tests.e2e.test_inbox_sensor_daemon import START_SENSOR, _failures, _runs

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("pg")]

START_TIMEOUT = 240
RUNS_TIMEOUT = 600
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
OUTAGE_SECONDS = 45
PG_ENV = "MHBENCH_DAGSTER_PG"
# a dead worker's run is failed and its slot freed within two minutes (dead_run_sensor)
DEAD_RUN_BOUND = 120


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    """A PostgreSQL server for the module; skip (locally) or fail (CI) without the binaries."""
    try:
        server = PgServer.create()
    except PostgresMissing as exc:
        reason = f"{exc}; the pg tests need a real PostgreSQL server"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set but {reason}", pytrace=False)
        pytest.skip(f"{reason} ({INSTALL_HINT})")
    try:
        server.start()
        print(
            f"PostgreSQL {server.bin_dir.parent.name}: initdb {server.init_seconds:.1f} s, "
            f"start {server.start_seconds:.1f} s"
        )
        yield server
    finally:
        server.remove()


def _database(pg: PgServer, name: str) -> str:
    pg.create_database(name)
    return pg.dagster_url(name)


def _pg_rows(pg: PgServer, database: str, sql: str) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(pg.url(database), connect_timeout=10)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


def _marts(database: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            "mart_benchmark": con.execute(
                "select * from marts.mart_benchmark order by all"
            ).fetchall(),
            "fct_indicator_values": con.execute(
                "select * exclude (submission_id) from marts.fct_indicator_values order by all"
            ).fetchall(),
        }


def test_postgres_down_at_start_is_a_clear_error_without_a_traceback(tmp_path):
    """No server needed: a port nothing listens on."""
    port = free_port()
    home = tmp_path / "home"
    env = {PG_ENV: f"postgresql+psycopg2://postgres:hunter2@127.0.0.1:{port}/dagster"}
    completed = _mhbench(home, env, "run", check=False)
    said = completed.stdout + completed.stderr
    assert completed.returncode == 2, said
    assert f"127.0.0.1:{port}" in said and "database dagster" in said
    assert "Traceback" not in said and "hunter2" not in said


def _mhbench(home: Path, extra: dict[str, str], *args: str, check: bool = True):
    env = {**mhbench_env(home), **extra}
    completed = subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"mhbench {args} exited {completed.returncode}:\n{completed.stdout}")
    return completed


@pytest.mark.pg
def test_the_annual_cycle_on_postgres_instance_storage(pg, cycle, tmp_path):
    url = _database(pg, "cycle")
    home = Home(tmp_path / "home").ensure()
    generate_sample(home, seed=2024)  # the shared cycle's sample

    started = time.monotonic()
    # a draft: nothing is approved on a fresh home, so a final release would be refused
    completed = _mhbench(home.root, {PG_ENV: url}, "run", "--draft")
    seconds = time.monotonic() - started

    assert "Published a draft" in completed.stdout, completed.stdout
    # the run, its events and its pool are in PostgreSQL, not in SQLite files
    [(status, count)] = _pg_rows(pg, "cycle", "select status, count(*) from runs group by 1")
    assert (status, count) == ("SUCCESS", 1)
    [(events,)] = _pg_rows(pg, "cycle", "select count(*) from event_logs")
    assert events > 100
    limits = 'select concurrency_key, "limit" from concurrency_limits'
    assert _pg_rows(pg, "cycle", limits) == [("duckdb_writer", 1)]
    assert not list((home.root / "dagster").rglob("*.db")), "no SQLite storage beside it"
    config = (home.root / "dagster" / "dagster.yaml").read_text()
    assert "env: MHBENCH_DAGSTER_PG" in config and str(pg.port) not in config
    # the same marts as the session's cycle's draft on SQLite, from the same returns
    from publishing.store import list_releases

    [ours] = list_releases(home, drafts=True)
    [theirs] = list_releases(Home(cycle.home), drafts=True)
    assert _marts(ours.database) == _marts(theirs.database)
    print(f"annual cycle on PostgreSQL instance storage: {seconds:.0f} s")


class Deployment:
    """One daemon and two webservers, started separately on one dagster.yaml."""

    def __init__(self, root: Path, home: Home, env: dict[str, str], daemon, web_a, web_b):
        self.root, self.home, self.env = root, home, env
        self.daemon, self.web_a, self.web_b = daemon, web_a, web_b

    def drop(self, participant: str) -> Path:
        [path] = generate_sample(
            self.home, participants=[participant], years=range(2023, 2024), include_bad=False
        ).files
        return path

    def run_of(self, path: Path) -> dict | None:
        """The sensor run that covers the file (one run may cover several files)."""
        name = path.relative_to(self.home.inbox).as_posix()
        return next(
            (r for r in _runs(self.web_a) if name in r["tags"].get("inbox_files", "").split(", ")),
            None,
        )

    def wait_finished(self, path: Path, timeout: float = RUNS_TIMEOUT) -> dict:
        def done():
            run = self.run_of(path)
            return run if run and run["status"] in FINISHED else None

        return self.web_a.wait_until(f"the run of {path.name}", done, timeout, interval=2)

    def failures_logged(self) -> list[dict]:
        log = self.home.root / "logs" / "run-failures.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def deployment(pg, tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    for machine in ("a", "b"):
        (root / machine).mkdir()
    url = _database(pg, "deployment")
    home = Home(root / "home").ensure()
    env = {**mhbench_env(home.root), PG_ENV: url, "DAGSTER_DISABLE_TELEMETRY": "1"}
    # dagster.yaml as the platform writes it on its first start (`mhbench` or `make ui`)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from orchestration.instance import configure_environment as c; c()",
        ],
        cwd=REPO,
        env=env,
        check=True,
    )
    with (
        dagster_daemon(root, env) as daemon,
        dagster_server("dagster-webserver", root / "a", env, START_TIMEOUT) as web_a,
        dagster_server("dagster-webserver", root / "b", env, START_TIMEOUT) as web_b,
    ):
        started = web_a.graphql(START_SENSOR, {"location": web_a.location})["startSensor"]
        assert started["__typename"] == "Sensor", started
        yield Deployment(root, home, env, daemon, web_a, web_b)
        if not daemon.alive():
            pytest.fail("the daemon died:\n" + daemon.log.read_text()[-4000:])


@pytest.mark.pg
def test_inbox_sensor_under_the_daemon_with_runs_seen_from_both_webservers(deployment):
    first, second = deployment.drop("SE"), deployment.drop("NO")

    runs = [deployment.wait_finished(path) for path in (first, second)]

    # One run covers both files when the sensor sees them together, two when it does not (then
    # the second waits for the first: the pool lets one writer at a time); either way each
    # succeeds.
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"], [
        _failures(deployment.web_a, r["runId"]) for r in runs
    ]
    seen_from_b = {r["runId"]: r["status"] for r in _runs(deployment.web_b)}
    assert {r["runId"]: r["status"] for r in _runs(deployment.web_a)} == seen_from_b
    assert {r["runId"] for r in runs} <= set(seen_from_b)
    with duckdb.connect(str(deployment.home.warehouse), read_only=True) as con:
        accepted = con.execute(
            "select participant_code from raw.submissions where status = 'accepted' order by 1"
        ).fetchall()
    assert accepted == [("NO",), ("SE",)]


@pytest.mark.pg
def test_postgres_restarted_during_a_run_fails_it_cleanly_and_the_next_run_succeeds(
    pg, deployment, monkeypatch
):
    import dagster as dg

    path = deployment.drop("GB-SCT")

    def executing():
        run = deployment.run_of(path)
        return (
            run if run and run["status"] == "STARTED" and run["tags"].get("mhbench/pid") else None
        )

    run = deployment.web_a.wait_until("the run executing", executing, RUNS_TIMEOUT, interval=1)
    # Down for longer than dagster-postgres retries a lost connection (about 6 s), and for
    # long enough that the run must write its events meanwhile.
    pg.stop()
    time.sleep(OUTAGE_SECONDS)
    pg.start()
    back = time.monotonic()

    finished = deployment.wait_finished(path)
    assert finished["status"] == "FAILURE", "the run cannot have recorded its steps"
    seconds_to_fail = time.monotonic() - back

    def logged():
        return [e for e in deployment.failures_logged() if e["run_id"] == run["runId"]] or None

    [entry] = deployment.web_a.wait_until("the failure logged", logged, 180, interval=2)
    assert entry["job"] == "refresh_returns"
    monkeypatch.setenv(PG_ENV, deployment.env[PG_ENV])

    def slot_freed():
        with dg.DagsterInstance.from_config(str(deployment.home.root / "dagster")) as instance:
            info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
        return not [s for s in info.claimed_slots if s.run_id == run["runId"]] or None

    # freed by Dagster or, at the latest, by dead_run_sensor's next tick (as for any dead run)
    deployment.web_a.wait_until("the failed run's slot freed", slot_freed, DEAD_RUN_BOUND, 2)

    after = deployment.wait_finished(deployment.drop("IE"))
    assert after["status"] == "SUCCESS", _failures(deployment.web_a, after["runId"])
    assert deployment.daemon.alive()
    print(
        f"PostgreSQL down {OUTAGE_SECONDS} s: the run marked failed {seconds_to_fail:.0f} s after"
    )
