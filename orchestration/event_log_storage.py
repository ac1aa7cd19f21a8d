"""Dagster's SQLite event log, keeping its connections open between events.

Dagster's `SqliteEventLogStorage` creates an engine for every event it stores, commits, and
closes the connection; closing the last connection to a SQLite file in WAL mode checkpoints
the write-ahead log into the database. A cold cycle writes ~930 events (a materialization is
two transactions: the run's shard and the cross-run index), so that was 3.5 ms a log line and
15 ms a materialization, ~5 s of the sample's cycle.

This storage keeps one engine (one connection) per shard for the shards it used last, so an
event is one insert and one commit into the write-ahead log; SQLite checkpoints that log itself
every 1,000 pages. Data, schema and files are Dagster's own: a home can switch between the two
classes either way. Everything else (readers in other processes, the webserver's live logs)
keeps working:

- each commit is as durable as before (SQLite's default `synchronous`, WAL mode);
- the webserver follows a run's log by watching its shard's file, which now changes only at a
  checkpoint: the watch here also follows the shard's `-wal` file, where the commits land.

A batch of events (Dagster sends the materializations of a step's partitions, and a run's
planned materializations, as one batch when DAGSTER_EVENT_BATCH_SIZE is set: this storage sets
it) is stored in one transaction per shard instead of two commits per event. A cold cycle at
50 participants x 10 years plans and materializes 500 partitions of three raw assets: 3,000
events, two transactions each. If a batch fails, nothing of it is kept and Dagster stores its
events one by one.

The platform writes this class into `dagster.yaml` for the SQLite instance (see
`orchestration/instance.py`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from watchdog.events import FileSystemEvent

# Events Dagster hands over at once (its DAGSTER_EVENT_BATCH_SIZE; unset, it sends none).
EVENT_BATCH_SIZE = 1000
# Shards whose engine a process keeps: the index and the runs it wrote or read last (a run
# worker writes one run's shard; the webserver reads many, each one file descriptor).
KEPT_SHARDS = 8


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one kept connection per recently used shard."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()  # the parent's init connects
        self._tables_present: set[str] = set()
        # the batch being stored: its thread, and the connection of each shard it wrote to
        self._batch_thread: int | None = None
        self._batch: dict[str, db.Connection] = {}
        super().__init__(base_dir, inst_data)
        # Dagster reads it from the environment each time it could batch
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before every asset check event, concurrency claim and tag write, each time
        # with an engine of its own (~1 ms). A table, once there, stays (migrations only add
        # tables; a wipe forgets them), so only its absence is asked again.
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> KeptSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard),  # SQLAlchemy's pool; one connection in use at a time
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
        while len(runs) > KEPT_SHARDS - 1:
            self._engines.pop(runs.pop(0)).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        if self._batch_thread == threading.get_ident():  # inside store_event_batch
            conn = self._batch.get(shard)
            if conn is None:
                conn = self._batch[shard] = self._engine(shard).connect()
                conn.begin()
            yield conn
            return
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store the events in one transaction per shard: all of them, or none."""
        with self._db_lock:
            self._batch_thread, self._batch = threading.get_ident(), {}
            try:
                for event in events:
                    self.store_event(event)
                for conn in self._batch.values():
                    conn.commit()
            except BaseException:
                for conn in self._batch.values():
                    conn.rollback()
                raise
            finally:
                for conn in self._batch.values():
                    conn.close()
                self._batch_thread, self._batch = None, {}

    def kept_shards(self) -> list[str]:
        """The shards whose connection is open, least recently used first."""
        return list(self._engines)

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # the parent deletes the files
        self._tables_present.clear()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        from watchdog.observers import Observer

        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        handler = _ShardAndWalWatch(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (
            handler,
            self._obs.schedule(handler, self._base_dir, recursive=True),
        )


class _ShardAndWalWatch(SqliteEventLogStorageWatchdog):
    """Dagster's watch of a run's shard, also woken by writes to the shard's `-wal` file."""

    def __init__(self, storage: SqliteEventLogStorage, run_id: str, callback: Any, cursor: Any):
        super().__init__(storage, run_id, callback, cursor)
        self._patterns = [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()
