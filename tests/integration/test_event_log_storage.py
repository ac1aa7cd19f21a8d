"""The SQLite instance's event log keeps its connections (orchestration/event_log_storage.py):
real SQLite instances from the dagster.yaml the platform writes, real runs, real file watches.
Its files stay Dagster's own, the webserver's live log still wakes up, and a process keeps a
bounded number of shards open."""

from __future__ import annotations

import os
import threading

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.event_log_storage import KEPT_SHARDS, KeptSqliteEventLogStorage
from orchestration.instance import render_dagster_yaml


@dg.asset
def tiny() -> int:
    return 1


def _instance(dagster_home) -> dg.DagsterInstance:
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(render_dagster_yaml(dagster_home))
    return dg.DagsterInstance.from_config(str(dagster_home))


def _run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([tiny], instance=instance)
    assert result.success
    return result.run_id


def test_the_platforms_instance_uses_it_and_dagsters_own_storage_reads_what_it_wrote(tmp_path):
    with _instance(tmp_path / "dagster") as instance:
        assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
        run_id = _run(instance)
        kept = [e.dagster_event_type for e in instance.all_logs(run_id)]
        assert instance.event_log_storage.kept_shards()[-1] == run_id, "its shard stays open"

        # Dagster's own class on the same folder, while the kept connections are still open
        plain = SqliteEventLogStorage(str(tmp_path / "dagster" / "history" / "runs"))
        records = plain.get_records_for_run(run_id).records
        assert [r.event_log_entry.dagster_event_type for r in records] == kept
        assert dg.DagsterEventType.ASSET_MATERIALIZATION in kept
        materialized = plain.get_latest_materialization_events([dg.AssetKey("tiny")])
        assert materialized[dg.AssetKey("tiny")].run_id == run_id, "the cross-run index too"
        plain.dispose()


def test_the_live_log_of_a_run_wakes_up_on_commits_to_the_write_ahead_log(tmp_path):
    with _instance(tmp_path / "dagster") as writer, _instance(tmp_path / "dagster") as reader:
        run_id = _run(writer)
        run = writer.get_run_by_id(run_id)
        shard = tmp_path / "dagster" / "history" / "runs" / f"{run_id}.db"
        cursor = str(writer.get_records_for_run(run_id).cursor)

        seen: list[str] = []
        arrived = threading.Event()

        def callback(entry, _cursor):
            seen.append(entry.message)
            if "after the watch began" in entry.message:
                arrived.set()

        reader.watch_event_logs(run_id, cursor, callback)
        try:
            before = shard.stat().st_mtime_ns
            # watchdog sets up its inotify watch in its own thread, after `schedule` returns: a
            # commit before that is not seen, so commit again until one is (a watch that only
            # followed the shard's file would see none: it changes only at a checkpoint)
            for _ in range(20):
                writer.report_engine_event("after the watch began", dagster_run=run)
                if arrived.wait(1):
                    break
            assert arrived.is_set(), f"the watch never saw the new event; saw {seen}"
            # the writer's connection is open: the commit is in the -wal, not yet in the file
            assert shard.with_name(shard.name + "-wal").exists()
            assert shard.stat().st_mtime_ns == before
        finally:
            reader.end_watch_event_logs(run_id, callback)


def test_a_process_keeps_a_bounded_number_of_shards_open(tmp_path):
    with _instance(tmp_path / "dagster") as instance:
        runs = [_run(instance) for _ in range(KEPT_SHARDS + 3)]
        kept = instance.event_log_storage.kept_shards()
        assert len(kept) == KEPT_SHARDS and "index" in kept
        assert set(kept) - {"index"} == set(runs[-(KEPT_SHARDS - 1) :]), "the latest runs"
        # an evicted run's shard opens again on demand
        assert any(e.is_dagster_event for e in instance.all_logs(runs[0]))
        assert instance.event_log_storage.kept_shards()[-1] == runs[0]
        open_fds = len(os.listdir("/proc/self/fd"))
    assert open_fds < 200, f"{open_fds} file descriptors open"


def test_it_remembers_the_tables_there_and_asks_again_for_one_missing(tmp_path):
    import sqlite3

    with _instance(tmp_path / "dagster") as instance:
        storage = instance.event_log_storage
        assert storage.has_table("asset_check_executions")
        assert SqliteEventLogStorage.has_table(storage, "asset_check_executions")
        assert not storage.has_table("added_later")
        # a migration adds a table: the absence was not remembered
        index = storage.path_for_shard("index")
        with sqlite3.connect(index) as con:
            con.execute("create table added_later (x integer)")
        assert storage.has_table("added_later")
        # what it remembers is what Dagster's own check finds
        with sqlite3.connect(index) as con:
            con.execute("drop table added_later")
        assert not SqliteEventLogStorage.has_table(storage, "added_later")
        storage.wipe()
        assert not storage.has_table("added_later")


_MANY = dg.StaticPartitionsDefinition([f"p{n:03d}" for n in range(120)])


@dg.asset(partitions_def=_MANY, backfill_policy=dg.BackfillPolicy.single_run())
def partitioned(context) -> None:
    assert len(context.partition_keys) == 120, "one run for every partition"


def test_the_events_of_many_partitions_are_stored_as_a_batch_one_transaction_each(tmp_path):
    with _instance(tmp_path / "dagster") as instance:
        storage = instance.event_log_storage
        batches: list[int] = []
        store_batch = storage.store_event_batch

        def counted(events):
            batches.append(len(events))
            store_batch(events)

        storage.store_event_batch = counted
        # one run over every partition: 120 planned and 120 materialized events
        result = dg.materialize(
            [partitioned],
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "p000",
                "dagster/asset_partition_range_end": "p119",
            },
        )
        assert result.success
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "1000"
        assert batches == [120, 120], "the planned events, then the materializations"

        # every one of them is there, for Dagster's own class too
        plain = SqliteEventLogStorage(str(tmp_path / "dagster" / "history" / "runs"))
        counts = plain.get_materialized_partitions(dg.AssetKey("partitioned"))
        assert counts == set(_MANY.get_partition_keys())
        records = plain.get_records_for_run(result.run_id).records
        types = [r.event_log_entry.dagster_event_type for r in records]
        assert types.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 120
        assert types.count(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED) == 120
        plain.dispose()


def test_a_batch_that_fails_keeps_none_of_its_events(tmp_path):
    with _instance(tmp_path / "dagster") as instance:
        run_id = _run(instance)
        storage = instance.event_log_storage
        before = len(instance.all_logs(run_id))
        run = instance.get_run_by_id(run_id)
        good = instance.all_logs(run_id)[-1]
        entries = [good._replace(user_message=f"batched {n}", dagster_event=None) for n in range(3)]
        broken = entries[:2] + [None]  # the third cannot be stored
        try:
            storage.store_event_batch(broken)
        except Exception:  # noqa: BLE001 (which error Dagster's code raises is its own)
            pass
        else:
            raise AssertionError("a batch with an event that cannot be stored was stored")
        assert len(instance.all_logs(run_id)) == before, "nothing of the failed batch"
        storage.store_event_batch(entries)
        messages = [e.user_message for e in instance.all_logs(run_id)]
        assert messages[-3:] == ["batched 0", "batched 1", "batched 2"]
        # and the storage writes single events again afterwards (no batch left open)
        instance.report_engine_event("after the batches", dagster_run=run)
        assert instance.all_logs(run_id)[-1].message == "after the batches"
