"""The collection workflow's event log: `raw.workflow_events`, append-only.

Every action of the collection (sign-off, approval, reopen, a query raised, answered or
closed, a held file released) is one row, never updated or deleted. It records who did it
(`by_name`, as given with `--by`), when (`recorded_at`, UTC), why (`text`), and the operating
system user and host that recorded it. dbt derives the state of each participant-year from
these rows (`int_collection_state`, `mart_collection_status`, `mart_queries`); this module
only writes them.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from runtime.duckdb_tables import table_exists
from runtime.duckdb_transaction import transaction
from runtime.warehouse import table_ddl

if TYPE_CHECKING:
    import duckdb

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.workflow_events (
    event_id VARCHAR PRIMARY KEY,
    action VARCHAR NOT NULL,
    participant_code VARCHAR NOT NULL,
    collection_year INTEGER NOT NULL,
    submission_id VARCHAR,
    query_id VARCHAR,
    item_code VARCHAR,
    by_name VARCHAR NOT NULL,
    text VARCHAR,
    is_override BOOLEAN NOT NULL DEFAULT false,
    recorded_at TIMESTAMP NOT NULL,
    os_user VARCHAR,
    host VARCHAR
);
"""

SIGNOFF = "signoff"
APPROVE = "approve"
REOPEN = "reopen"
ASK = "ask"
ANSWER = "answer"
CLOSE = "close"
RELEASE_HELD = "release_held"  # a held file becomes accepted after a reopen
ACTIONS = (SIGNOFF, APPROVE, REOPEN, ASK, ANSWER, CLOSE, RELEASE_HELD)

MIGRATION_BY = "migration"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@dataclass(frozen=True)
class WorkflowEvent:
    action: str
    participant_code: str
    collection_year: int
    by_name: str
    text: str | None = None
    submission_id: str | None = None
    query_id: str | None = None
    item_code: str | None = None
    is_override: bool = False
    recorded_at: datetime = field(default_factory=_now)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    os_user: str | None = field(default_factory=_os_user)
    host: str | None = field(default_factory=socket.gethostname)

    def row(self) -> list:
        return [
            self.event_id,
            self.action,
            self.participant_code,
            self.collection_year,
            self.submission_id,
            self.query_id,
            self.item_code,
            self.by_name,
            self.text,
            self.is_override,
            self.recorded_at,
            self.os_user,
            self.host,
        ]


_INSERT = "INSERT INTO raw.workflow_events VALUES (" + ", ".join("?" * 13) + ")"


def ensure_workflow_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Create `raw.workflow_events` if missing; on a warehouse made before the workflow existed,
    record what was already published as approved by `migration`. Returns events migrated.

    A participant-year whose submission was published in a release before this version is
    recorded as signed off and approved (by `migration`, naming that submission), so the next
    final release keeps it. A newer submission voids it as usual.
    """
    if table_exists(con, "raw", "workflow_events"):
        return 0
    with transaction(con):
        con.execute(table_ddl(con, SCHEMA_SQL))  # DuckLake: no PRIMARY KEY
        migrated = _migrate_published(con)
    return migrated


def _migrate_published(con: duckdb.DuckDBPyConnection) -> int:
    if not table_exists(con, "raw", "submission_events"):
        return 0
    # The submission published last for each participant-year.
    rows = con.execute(
        """
        select s.participant_code, s.collection_year, s.submission_id, e.detail
        from raw.submission_events as e
        join raw.submissions as s using (submission_id)
        where e.status = 'published' and s.participant_code is not null
            and s.collection_year is not null
        qualify row_number() over (
            partition by s.participant_code, s.collection_year
            order by e.event_at desc, s.submission_id desc) = 1
        """
    ).fetchall()
    events = []
    for participant, year, submission_id, release_id in rows:
        why = f"published in release {release_id} before the collection workflow existed"
        for action in (SIGNOFF, APPROVE):
            events.append(
                WorkflowEvent(
                    action=action,
                    participant_code=participant,
                    collection_year=int(year),
                    by_name=MIGRATION_BY,
                    text=why,
                    submission_id=submission_id,
                ).row()
            )
    if events:
        con.executemany(_INSERT, events)
    return len(events)


def append(con: duckdb.DuckDBPyConnection, *events: WorkflowEvent) -> None:
    """Append events in one transaction: all of them are written, or none."""
    with transaction(con):
        con.executemany(_INSERT, [event.row() for event in events])


def append_query(con: duckdb.DuckDBPyConnection, event: WorkflowEvent) -> str:
    """Raise a query: its id is `q-<n>`, one more than the queries raised so far, decided and
    written in one transaction. Returns the id."""
    with transaction(con):
        count = con.execute(
            f"select count(*) from raw.workflow_events where action = '{ASK}'"
        ).fetchone()[0]
        query_id = f"q-{count + 1}"
        con.execute(_INSERT, replace(event, query_id=query_id).row())
    return query_id
