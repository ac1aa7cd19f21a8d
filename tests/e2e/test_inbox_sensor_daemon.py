"""The inbox sensor in a real `dagster dev` (webserver + daemon), as during a collection.

Returns land in the inbox; the sensor, switched on through the GraphQL API, starts one
`refresh_returns` run for all the files it finds (their partitions, one run), adding each
participant's partition on its first return; the daemon launches the runs. Every file still
gets its own registration, report and row in the run's check. An unreadable file ends in the
`unidentified` partition as a rejected submission with a failed check, and its run still
succeeds.
"""

from __future__ import annotations

import json
import os
import signal
import time

import dagster as dg
import duckdb
import pytest

from demo.sample_returns import generate_sample
from ingestion.registry import file_sha256
from orchestration.dbt_manifest import PARSE_REUSED
from orchestration.defs.sensors import run_key_for
from runtime.home import Home
from tests.conftest import mhbench_env
from tests.e2e.dagster_server import dagster_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("daemon")]

START_TIMEOUT = 240
RUNS_TIMEOUT = 600
DEAD_RUN_BOUND = 120  # a dead worker's run is failed and its slot freed within two minutes

RUNS = """
{ runsOrError { __typename ... on Runs { results {
    runId jobName status tags { key value } } } } }
"""
START_SENSOR = """
mutation($location: String!) {
  startSensor(sensorSelector: {repositoryLocationName: $location,
      repositoryName: "__repository__", sensorName: "inbox_sensor"}) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""
PARTITIONS = """
{ assetNodeOrError(assetKey: {path: ["raw", "submissions"]}) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys } } } }
"""
CHECK_EXECUTIONS = """
{ assetCheckExecutions(assetKey: {path: ["raw", "submissions"]},
      checkName: "new_files_accepted", limit: 10) {
    runId status evaluation { success severity
      metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } } }
"""


FAILURES = """
query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events {
    __typename
    ... on ExecutionStepFailureEvent { stepKey error { message } }
    ... on RunFailureEvent { message } } } } }
"""


def _failures(server, run_id: str) -> list[str]:
    events = server.graphql(FAILURES, {"id": run_id})["logsForRun"]["events"]
    return [
        f"{e.get('stepKey') or 'run'}: {(e.get('error') or {}).get('message') or e.get('message')}"
        for e in events
        if e["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}
    ]


def _runs(server) -> list[dict]:
    runs = server.graphql(RUNS)["runsOrError"]["results"]
    return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in runs]


def test_files_dropped_together_are_one_run_with_a_row_per_file(tmp_path):
    home = Home(tmp_path / "home").ensure()
    summary = generate_sample(
        home, participants=["SE", "IE"], years=range(2023, 2024), include_bad=False
    )
    scan = home.inbox / "2023" / "scan.xlsx"
    scan.write_bytes(b"%PDF-1.4 a scanned letter, not a workbook")
    dropped = [*summary.files, scan]
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    from orchestration.instance import render_dagster_yaml

    (dagster_home / "dagster.yaml").write_text(render_dagster_yaml(dagster_home))
    env = mhbench_env(home.root)
    env.update(DAGSTER_HOME=str(dagster_home), DAGSTER_DISABLE_TELEMETRY="1")

    with dagster_server("dagster dev", tmp_path, env, START_TIMEOUT) as server:
        started = server.graphql(START_SENSOR, {"location": server.location})["startSensor"]
        assert started["__typename"] == "Sensor", started

        def finished():
            runs = _runs(server)
            done = [r for r in runs if r["status"] in {"SUCCESS", "FAILURE", "CANCELED"}]
            return runs if runs and len(done) == len(runs) else None

        runs = server.wait_until("the sensor run finished", finished, RUNS_TIMEOUT, interval=2)

        # three files, one run: their key is derived from the sorted sha256s
        [run] = runs
        assert run["jobName"] == "refresh_returns"
        assert run["tags"]["dagster/run_key"] == run_key_for([file_sha256(f) for f in dropped])
        assert run["tags"]["inbox_file_count"] == "3"
        assert run["status"] == "SUCCESS", (
            f"a rejected file is not a crashed run: {_failures(server, run['runId'])}"
        )
        assert run["tags"]["dagster/asset_partition_range_start"] == "2023|IE"
        assert run["tags"]["dagster/asset_partition_range_end"] == "2023|unidentified"

        node = server.graphql(PARTITIONS)["assetNodeOrError"]
        dimensions = {d["name"]: d["partitionKeys"] for d in node["partitionKeysByDimension"]}
        assert set(dimensions["participant"]) == {"IE", "SE", "unidentified"}

        [check] = server.graphql(CHECK_EXECUTIONS)["assetCheckExecutions"]
        assert check["runId"] == run["runId"]
        assert check["evaluation"]["success"] is False
        assert check["evaluation"]["severity"] == "WARN"
        metadata = {m["label"]: m.get("mdStr") for m in check["evaluation"]["metadataEntries"]}
        assert "scan.xlsx" in metadata["reports"] and str(home.reports) in metadata["reports"]
        # its own row for every file received
        lines = [line for line in metadata["files"].splitlines() if line.startswith("| ")]
        rows = lines[2:]  # after the header and its rule
        assert sorted(row.split("|")[1].strip() for row in rows) == sorted(f.name for f in dropped)
        statuses = {row.split("|")[1].strip(): row.split("|")[5].strip() for row in rows}
        expected = {**{f.name: "accepted" for f in summary.files}, "scan.xlsx": "rejected"}
        assert statuses == expected

        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            registered = {
                name: (status, report)
                for name, status, report in con.execute(
                    "select original_filename, status, report_path from raw.submissions"
                ).fetchall()
            }
        assert {name: status for name, (status, _) in registered.items()} == expected
        # and its own report
        for name, (_, report) in registered.items():
            assert report and (home.root / report).is_file(), name

        # A run worker killed mid-run (as by the OOM killer, or a reboot) must not wedge the pool.
        before = {r["runId"] for r in _runs(server)}
        [killed_file] = generate_sample(
            home, participants=["NO"], years=range(2023, 2024), include_bad=False
        ).files

        def holding_slots() -> set[str]:
            with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
                info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
                return {slot.run_id for slot in info.claimed_slots}

        def worker_holds_the_warehouse():
            for run in _runs(server):
                if run["runId"] not in before and run["tags"].get("mhbench/pid"):
                    return run if run["runId"] in holding_slots() else None
            return None

        run = server.wait_until(
            "a sensor run holding the warehouse", worker_holds_the_warehouse, RUNS_TIMEOUT
        )
        assert run["tags"]["dagster/run_key"] == run_key_for([file_sha256(killed_file)])
        os.kill(int(run["tags"]["mhbench/pid"]), signal.SIGKILL)
        killed_at = time.monotonic()

        def failed():
            statuses = {r["runId"]: r["status"] for r in _runs(server)}
            return statuses[run["runId"]] if statuses[run["runId"]] == "FAILURE" else None

        server.wait_until("the dead run marked failed", failed, DEAD_RUN_BOUND + 30, interval=1)
        seconds_to_fail = time.monotonic() - killed_at
        server.wait_until(
            "the dead run's slot freed",
            lambda: run["runId"] not in holding_slots(),
            DEAD_RUN_BOUND + 30,
            interval=1,
        )
        seconds_to_free = time.monotonic() - killed_at
        failures_log = home.root / "logs" / "run-failures.log"

        def logged():
            if not failures_log.exists():
                return None
            lines = [json.loads(line) for line in failures_log.read_text().splitlines()]
            return [r for r in lines if r["run_id"] == run["runId"]] or None

        [entry] = server.wait_until("the failure logged", logged, 90, interval=1)
        assert entry["job"] == "refresh_returns"

        # the next sensor run proceeds: the pool is free
        [next_file] = generate_sample(
            home, participants=["GB-SCT"], years=range(2023, 2024), include_bad=False
        ).files

        def next_done():
            for r in _runs(server):
                # the killed run's file was never registered: the next run covers both files
                if next_file.name in r["tags"].get("inbox_files", ""):
                    return r if r["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None
            return None

        after = server.wait_until("the next sensor run", next_done, RUNS_TIMEOUT, interval=2)
        assert after["status"] == "SUCCESS", _failures(server, after["runId"])
        # and its dbt started from the parse the first run's build kept in this home
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            messages = [e.user_message for e in instance.all_logs(after["runId"])]
        assert PARSE_REUSED in messages, [m for m in messages if "pars" in m]
    print(
        f"dead run worker: marked failed {seconds_to_fail:.0f} s and its slot freed "
        f"{seconds_to_free:.0f} s after SIGKILL"
    )
    assert seconds_to_free < DEAD_RUN_BOUND
