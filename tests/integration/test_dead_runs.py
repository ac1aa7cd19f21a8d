"""Dead runs are reclaimed on a real Dagster instance: marked failed, their slot freed.

A run is dead when its tags name this host and a process that is gone. A live process,
a reused pid (another start time) and a run of another host are told apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.dead_runs import (
    HOST_TAG,
    PID_RUN_TAG,
    PID_STARTED_TAG,
    PID_TAG,
    dbt_target_name,
    host_name,
    process_tags,
    reclaim_dead_runs,
    run_processes,
    warehouse_holders,
)
from orchestration.defs.resources import DUCKDB_WRITER_POOL
from orchestration.instance import render_dagster_yaml, update_dagster_yaml


@pytest.fixture
def instance(tmp_path):
    """A real SQLite instance configured by the dagster.yaml the platform writes."""
    (tmp_path / "dagster.yaml").write_text(render_dagster_yaml(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _started_run(instance, run_id: str, tags: dict) -> DagsterRun:
    run = instance.add_run(
        DagsterRun(
            job_name="annual_cycle", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
        )
    )
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(DUCKDB_WRITER_POOL)
    claim = storage.claim_concurrency_slot(DUCKDB_WRITER_POOL, run_id, "ingest_returns")
    return run, claim


def test_a_dead_run_of_this_host_is_failed_and_its_slot_freed(instance):
    pid = _dead_pid()
    run, claim = _started_run(instance, "dead0000-run", process_tags("dead0000-run", pid=pid))
    assert claim.is_claimed
    assert [h.run_id for h in warehouse_holders(instance, "someone-else")] == ["dead0000-run"]

    reclaimed = reclaim_dead_runs(instance)

    assert [r.run_id for r in reclaimed] == ["dead0000-run"]
    assert reclaimed[0].freed_slots == 1
    assert reclaimed[0].reason == f"process {pid} on host {host_name()} is gone: killed or crashed"
    assert instance.get_run_by_id("dead0000-run").status == dg.DagsterRunStatus.FAILURE
    info = instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL)
    assert info.claimed_slots == []
    # the failure is an event with the reason, which the run failure sensor reads
    failures = instance.get_records_for_run(
        "dead0000-run", of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    assert "killed or crashed" in failures[0].event_log_entry.dagster_event.message
    # a second pass finds nothing more to do
    assert reclaim_dead_runs(instance) == []


def test_live_runs_reused_pids_and_other_hosts(instance):
    mine = process_tags("alive000-run")
    _started_run(instance, "alive000-run", mine)
    elsewhere = {**process_tags("elsewhere-run", pid=_dead_pid()), HOST_TAG: "another-host"}
    _started_run(instance, "elsewhere-run", elsewhere)
    # re-executed from a dead run: the parent's tags were copied, this run has none of its own
    _started_run(instance, "reexec00-run", process_tags("dead-parent", pid=_dead_pid()))
    # this process's pid, but another start time: the pid was reused, the run is dead
    reused = {
        **process_tags("reused00-run"),
        PID_STARTED_TAG: str(int(mine[PID_STARTED_TAG]) - 1),
    }
    instance.add_run(
        DagsterRun(
            job_name="annual_cycle",
            run_id="reused00-run",
            status=dg.DagsterRunStatus.STARTED,
            tags=reused,
        )
    )
    _started_run(instance, "untagged-run", {})

    reclaimed = reclaim_dead_runs(instance)

    assert [r.run_id for r in reclaimed] == ["reused00-run"]
    status = {
        r: instance.get_run_by_id(r).status
        for r in ("alive000-run", "elsewhere-run", "untagged-run")
    }
    assert set(status.values()) == {dg.DagsterRunStatus.STARTED}


def test_slots_of_ended_runs_are_freed(instance):
    run, _ = _started_run(instance, "ended000-run", process_tags("ended000-run"))
    instance.report_run_canceled(run, "stopped")
    assert instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots

    assert reclaim_dead_runs(instance) == []
    assert instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots == []


def test_dagster_yaml_gets_new_settings_and_keeps_the_users(tmp_path):
    config = tmp_path / "dagster.yaml"
    # what the previous version wrote, plus a setting of the user's and an owned one changed
    config.write_text(
        "telemetry:\n  enabled: true\nconcurrency:\n  pools:\n    default_limit: 1\n"
        "  runs:\n    max_concurrent_runs: 3\n"
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    )
    assert update_dagster_yaml(config)
    settings = yaml.safe_load(config.read_text())
    assert settings["telemetry"] == {"enabled": False}
    assert settings["concurrency"] == {
        "pools": {"default_limit": 1},
        "runs": {"max_concurrent_runs": 3},
    }
    assert settings["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert settings["run_monitoring"]["enabled"] is True
    assert settings["run_monitoring"]["free_slots_after_run_end_seconds"] == 30
    # up to date: not written again
    assert not update_dagster_yaml(config)
    # Dagster reads it
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        assert inst.run_monitoring_enabled
        assert inst.run_monitoring_settings["free_slots_after_run_end_seconds"] == 30


def test_process_tags_name_this_process():
    tags = process_tags("a-run")
    assert tags[HOST_TAG] == host_name() and tags[PID_TAG] == str(os.getpid())
    assert tags[PID_RUN_TAG] == "a-run"
    assert tags[PID_STARTED_TAG].isdigit()


def test_dead_run_sensor_reclaims_without_a_code_server(instance):
    """As after a reboot: no code server knows the worker; the sensor alone finds it dead."""
    from orchestration.defs.sensors import dead_run_sensor

    pid = _dead_pid()
    _started_run(instance, "reboot00-run", process_tags("reboot00-run", pid=pid))

    result = dead_run_sensor(dg.build_sensor_context(instance=instance))

    assert "run reboot00 (annual_cycle) marked failed" in result.skip_message
    assert instance.get_run_by_id("reboot00-run").status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots == []
    again = dead_run_sensor(dg.build_sensor_context(instance=instance))
    assert again.skip_message == "no dead runs"


def test_reclaim_by_hand_frees_a_run_of_an_older_version_and_refuses_a_live_one(instance):
    from orchestration.dead_runs import ReclaimRefused, reclaim_by_hand

    # started by a version that did not tag its process: the automatic reclaim cannot judge
    _started_run(instance, "legacy00-run-0001", {})
    assert reclaim_dead_runs(instance) == []
    reclaimed = reclaim_by_hand(instance, "legacy00", by="ops")
    assert reclaimed.run_id == "legacy00-run-0001" and reclaimed.freed_slots == 1
    assert "reclaimed by hand by ops" in reclaimed.reason
    assert instance.get_run_by_id("legacy00-run-0001").status == dg.DagsterRunStatus.FAILURE

    _started_run(instance, "alive000-run-0001", process_tags("alive000-run-0001"))
    with pytest.raises(ReclaimRefused, match="is alive: process"):
        reclaim_by_hand(instance, "alive000", by="ops")
    with pytest.raises(ReclaimRefused, match="no starting, started or canceling run"):
        reclaim_by_hand(instance, "legacy00", by="ops")  # it has ended
    with pytest.raises(ReclaimRefused, match="at least 8 characters"):
        reclaim_by_hand(instance, "aliv", by="ops")
    assert instance.get_run_by_id("alive000-run-0001").status == dg.DagsterRunStatus.STARTED


def test_a_dead_runs_dbt_is_stopped_even_before_its_pid_was_recorded(instance, tmp_path):
    # a run killed between starting dbt and tagging it: its dbt is found by its target folder
    target = tmp_path / "target" / f"{dbt_target_name('dead0001-run')}abcd1234"
    env = {**os.environ, "DBT_TARGET_PATH": str(target)}
    # SIGTERM as dbt gets it (a worker under xdist may have it ignored, which children inherit)
    sleeper = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); time.sleep(60)"
    orphan = subprocess.Popen([sys.executable, "-c", sleeper], env=env)
    other_env = {**env, "DBT_TARGET_PATH": str(tmp_path / f"{dbt_target_name('live-run')}x")}
    other = subprocess.Popen([sys.executable, "-c", sleeper], env=other_env)
    try:
        assert set(run_processes("dead0001-run")) == {orphan.pid}
        _started_run(instance, "dead0001-run", process_tags("dead0001-run", pid=_dead_pid()))

        [reclaimed] = reclaim_dead_runs(instance)

        assert reclaimed.run_id == "dead0001-run"
        assert orphan.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None, "another run's dbt is left alone"
    finally:
        for process in (orphan, other):
            process.kill()
            process.wait()
