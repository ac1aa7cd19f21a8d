"""The collection workflow's transitions: sign-off, approval, reopen and queries.

Plain Python over the warehouse, without Dagster: the CLI calls these directly (an action
answers in well under a second), and the workflow jobs in orchestration wrap the same
functions. Each action reads the participant-year's state from `marts.mart_collection_status`
(a view that dbt derives from the events, so it is current after every action), refuses what
the state does not allow with a message that says what is missing, and otherwise appends its
events in one transaction (workflow/events.py). A refusal writes nothing.

The rules (DESIGN.md, "The collection workflow"):
- sign-off needs a submission that counts, and the participant-year not approved yet;
- approval needs a sign-off of the submission that counts, checked by a run (its content
  findings exist), no open error findings and no open (or answered but not closed) queries,
  unless overridden with a written reason;
- reopen is allowed from approved and published, needs a reason, and releases the files held
  while the participant-year was locked (the latest received then counts, as usual);
- a query is raised on a known participant-year (optionally a known item), answered and
  closed; a closed query takes no more answers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.warehouse import connect_warehouse, warehouse_exists
from workflow import events as ev

if TYPE_CHECKING:
    import duckdb

STATUS_VIEW = "marts.mart_collection_status"
QUERIES_VIEW = "marts.mart_queries"
FINDINGS_TABLE = "marts.mart_validation_findings"
LOCKED_STATES = ("approved", "published")
# How long an action waits for a run that holds the warehouse's write lock.
DEFAULT_LOCK_WAIT_SECONDS = 30.0
_PID = re.compile(r"PID (\d+)")
_QUERY_ID = re.compile(r"^q-\d+$")


class WorkflowRefused(Exception):
    """The action is not allowed (or its input is wrong): nothing was written."""


class WarehouseBusy(Exception):
    """Another process holds the warehouse's write lock for longer than we waited."""

    def __init__(self, warehouse: Path, waited: float, pid: int | None, detail: str) -> None:
        self.warehouse, self.waited, self.pid, self.detail = warehouse, waited, pid, detail
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"the warehouse is busy: {holder} holds its write lock (waited {waited:.0f} s)"
        )


def connect(
    warehouse: Path, *, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing (or `read_only`, to look), waiting up to `wait_seconds`
    while a run holds it."""
    import duckdb

    if not warehouse_exists(Path(warehouse)):
        raise WorkflowRefused(
            f"there is no warehouse yet ({warehouse}): run `mhbench run` first, so that the "
            "returns are ingested and checked"
        )
    deadline = time.monotonic() + wait_seconds
    started = time.monotonic()
    while True:
        try:
            con = connect_warehouse(warehouse, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                match = _PID.search(str(exc))
                raise WarehouseBusy(
                    Path(warehouse),
                    time.monotonic() - started,
                    int(match.group(1)) if match else None,
                    str(exc),
                ) from None
            time.sleep(0.2)
            continue
        if not read_only:
            ev.ensure_workflow_schema(con)
        return con


@dataclass(frozen=True)
class PartitionState:
    """One row of mart_collection_status, as the actions need it."""

    participant_code: str
    collection_year: int
    state: str
    state_note: str | None
    latest_submission_id: str | None
    signed_off_submission_id: str | None
    approved_submission_id: str | None
    checked: bool | None
    open_errors: int | None
    open_error_rules: str | None
    open_queries: int
    open_query_ids: str | None
    held_files: int
    rejected_files: int

    @property
    def label(self) -> str:
        return f"{self.participant_code} {self.collection_year}"

    @property
    def signed_off(self) -> bool:
        return (
            self.latest_submission_id is not None
            and self.signed_off_submission_id == self.latest_submission_id
        )


_STATE_COLUMNS = (
    "participant_code, collection_year, state, state_note, latest_submission_id, "
    "signed_off_submission_id, approved_submission_id, checked, open_errors, open_error_rules, "
    "open_queries, open_query_ids, held_files, rejected_files"
)


def _require_built(con: duckdb.DuckDBPyConnection) -> None:
    if not ev.table_exists(con, "marts", "mart_collection_status"):
        raise WorkflowRefused(
            "the warehouse has not been built with the collection workflow yet: run "
            "`mhbench run` (or `mhbench run --draft`) first"
        )


def _optional(value: str | None) -> str | None:
    return (value or "").strip() or None


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise WorkflowRefused(f"{what} must not be empty")
    return text


def participants(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select participant_code from reference.participants").fetchall()
    return [r[0] for r in rows]


def state_of(con: duckdb.DuckDBPyConnection, participant: str, year: int) -> PartitionState:
    """The participant-year's state, or a refusal naming what is unknown."""
    _require_built(con)
    code = (participant or "").strip().upper()
    known = participants(con)
    if code not in known:
        raise WorkflowRefused(
            f"unknown participant {participant!r} (known: {', '.join(sorted(known))})"
        )
    row = con.execute(
        f"select {_STATE_COLUMNS} from {STATUS_VIEW} "
        "where participant_code = ? and collection_year = ?",
        [code, year],
    ).fetchone()
    if row is None:
        years = [
            r[0] for r in con.execute("select year from reference.collection_calendar").fetchall()
        ]
        if year not in years:
            raise WorkflowRefused(
                f"unknown collection year {year} (the collection calendar has "
                f"{', '.join(str(y) for y in sorted(years))})"
            )
        return PartitionState(code, year, "not_received", None, *([None] * 6), 0, None, 0, 0)
    return PartitionState(*row)


def statuses(con: duckdb.DuckDBPyConnection, year: int | None = None) -> list[dict]:
    """mart_collection_status rows (one year, or all), ordered by year and participant."""
    _require_built(con)
    where, params = ("where collection_year = ?", [year]) if year is not None else ("", [])
    cursor = con.execute(
        f"select * from {STATUS_VIEW} {where} order by collection_year, participant_code", params
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def queries(
    con: duckdb.DuckDBPyConnection, *, open_only: bool = False, year: int | None = None
) -> list[dict]:
    """mart_queries rows, oldest first."""
    _require_built(con)
    clauses, params = [], []
    if open_only:
        clauses.append("state <> 'closed'")
    if year is not None:
        clauses.append("collection_year = ?")
        params.append(year)
    where = f"where {' and '.join(clauses)}" if clauses else ""
    cursor = con.execute(
        f"select * from {QUERIES_VIEW} {where} order by cast(substr(query_id, 3) as integer)",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _no_submission(state: PartitionState, verb: str) -> WorkflowRefused:
    if state.state == "rejected":
        why = f"no accepted submission ({state.rejected_files} rejected file(s) only)"
    else:
        why = "no return has been received"
    return WorkflowRefused(f"{state.label} cannot be {verb}: {why}")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


# --------------------------------------------------------------------------- transitions


def signoff(
    con: duckdb.DuckDBPyConnection, participant: str, year: int, by: str, note: str | None = None
) -> str:
    """Record that the participant's lead confirmed the submission that counts."""
    by = _text(by, "--by")
    state = state_of(con, participant, year)
    if state.latest_submission_id is None:
        raise _no_submission(state, "signed off")
    if state.state in LOCKED_STATES:
        raise WorkflowRefused(
            f"{state.label} cannot be signed off: it is already {state.state} "
            f"(submission {state.approved_submission_id}); reopen it first"
        )
    if state.signed_off:
        raise WorkflowRefused(
            f"{state.label} is already signed off (submission {state.latest_submission_id})"
        )
    ev.append(
        con,
        ev.WorkflowEvent(
            action=ev.SIGNOFF,
            participant_code=state.participant_code,
            collection_year=year,
            by_name=by,
            text=_optional(note),
            submission_id=state.latest_submission_id,
        ),
    )
    return f"{state.label}: submission {state.latest_submission_id} signed off by {by}"


def approve(
    con: duckdb.DuckDBPyConnection,
    participant: str,
    year: int,
    by: str,
    override: str | None = None,
) -> str:
    """Approve (and so lock) the signed-off submission that counts."""
    by = _text(by, "--by")
    if override is not None:
        override = _text(override, "--override")
    state = state_of(con, participant, year)
    if state.latest_submission_id is None:
        raise _no_submission(state, "approved")
    if state.state in LOCKED_STATES:
        raise WorkflowRefused(
            f"{state.label} is already {state.state} (submission {state.approved_submission_id})"
        )
    if not state.signed_off:
        why = "not signed off"
        if state.signed_off_submission_id:
            why = (
                f"the sign-off was for submission {state.signed_off_submission_id}, and "
                f"{state.latest_submission_id} arrived since"
            )
        raise WorkflowRefused(
            f"{state.label} cannot be approved: {why}; record the lead's sign-off with "
            f"`mhbench signoff {state.participant_code} {year} --by NAME` first"
        )
    if not state.checked:
        raise WorkflowRefused(
            f"{state.label} cannot be approved yet: submission {state.latest_submission_id} has "
            "not been checked (content validation runs in the next run); run `mhbench run "
            "--draft` first"
        )
    blocking = []
    if state.open_errors:
        blocking.append(f"{_plural(state.open_errors, 'open error')} ({state.open_error_rules})")
    if state.open_queries:
        blocking.append(
            f"{_plural(state.open_queries, 'open query', 'open queries')} ({state.open_query_ids})"
        )
    if blocking and override is None:
        raise WorkflowRefused(
            f"{state.label} cannot be approved: {', '.join(blocking)}; "
            "use --override REASON to approve anyway"
        )
    ev.append(
        con,
        ev.WorkflowEvent(
            action=ev.APPROVE,
            participant_code=state.participant_code,
            collection_year=year,
            by_name=by,
            text=override,
            submission_id=state.latest_submission_id,
            is_override=bool(blocking and override),
        ),
    )
    done = f"{state.label}: submission {state.latest_submission_id} approved by {by}"
    return done + (f" (override: {', '.join(blocking)})" if blocking and override else "")


def reopen(
    con: duckdb.DuckDBPyConnection, participant: str, year: int, by: str, reason: str
) -> str:
    """Unlock an approved or published participant-year; held files become usable."""
    by = _text(by, "--by")
    reason = _text(reason, "--reason")
    state = state_of(con, participant, year)
    if state.state not in LOCKED_STATES:
        raise WorkflowRefused(
            f"{state.label} cannot be reopened: it is {state.state.replace('_', ' ')}, not "
            "approved or published"
        )
    # still held: registered held and not usable yet (dbt's int_usable_submissions, a view)
    held = [
        r[0]
        for r in con.execute(
            "select s.submission_id from staging.stg_raw__submissions s "
            "where s.participant_code = ? and s.collection_year = ? "
            "and s.registration_status = 'held' and s.submission_id not in ("
            "  select submission_id from intermediate.int_usable_submissions) "
            "order by s.received_at, s.submission_id",
            [state.participant_code, year],
        ).fetchall()
    ]
    reopened = ev.WorkflowEvent(
        action=ev.REOPEN,
        participant_code=state.participant_code,
        collection_year=year,
        by_name=by,
        text=reason,
    )
    released = [
        ev.WorkflowEvent(
            action=ev.RELEASE_HELD,
            participant_code=state.participant_code,
            collection_year=year,
            by_name=by,
            text=f"released by the reopen: {reason}",
            submission_id=submission_id,
            recorded_at=reopened.recorded_at,
        )
        for submission_id in held
    ]
    ev.append(con, reopened, *released)
    done = f"{state.label} reopened by {by}"
    if released:
        done += f"; {_plural(len(released), 'held file')} released ({', '.join(held)})"
    return done


def ask(
    con: duckdb.DuckDBPyConnection,
    participant: str,
    year: int,
    by: str,
    text: str,
    item: str | None = None,
) -> str:
    """Raise a query with the submitter; returns its id (q-<n>)."""
    by = _text(by, "--by")
    text = _text(text, "--text")
    state = state_of(con, participant, year)
    item_code = None
    if item is not None:
        item_code = _text(item, "--item").upper()
        found = con.execute(
            "select count(*) from reference.data_items where upper(item_code) = ?", [item_code]
        ).fetchone()[0]
        if not found:
            raise WorkflowRefused(f"unknown data item {item!r} (see dim_data_item)")
    return ev.append_query(
        con,
        ev.WorkflowEvent(
            action=ev.ASK,
            participant_code=state.participant_code,
            collection_year=year,
            by_name=by,
            text=text,
            item_code=item_code,
        ),
    )


def _query(con: duckdb.DuckDBPyConnection, query_id: str) -> tuple[str, int, str]:
    ref = (query_id or "").strip().lower()
    if not _QUERY_ID.match(ref):
        raise WorkflowRefused(f"{query_id!r} is not a query id (they look like q-17)")
    row = con.execute(
        "select participant_code, collection_year, "
        "bool_or(action = 'close') from raw.workflow_events where query_id = ? "
        "group by participant_code, collection_year",
        [ref],
    ).fetchone()
    if row is None:
        raise WorkflowRefused(f"unknown query {query_id!r} (see `mhbench status`)")
    if row[2]:
        raise WorkflowRefused(f"query {ref} is closed")
    return row[0], int(row[1]), ref


def answer(con: duckdb.DuckDBPyConnection, query_id: str, by: str, text: str) -> str:
    """Record the submitter's answer to a query."""
    by = _text(by, "--by")
    text = _text(text, "--text")
    participant, year, ref = _query(con, query_id)
    ev.append(
        con,
        ev.WorkflowEvent(
            action=ev.ANSWER,
            participant_code=participant,
            collection_year=year,
            by_name=by,
            text=text,
            query_id=ref,
        ),
    )
    return f"{ref} ({participant} {year}): answer recorded from {by}"


def close(con: duckdb.DuckDBPyConnection, query_id: str, by: str, text: str | None = None) -> str:
    """Close a query: it no longer blocks approval."""
    by = _text(by, "--by")
    participant, year, ref = _query(con, query_id)
    ev.append(
        con,
        ev.WorkflowEvent(
            action=ev.CLOSE,
            participant_code=participant,
            collection_year=year,
            by_name=by,
            text=_optional(text),
            query_id=ref,
        ),
    )
    return f"{ref} ({participant} {year}) closed by {by}"


def lock_check(con: duckdb.DuckDBPyConnection):
    """For ingestion: a function telling why a participant-year is locked (None if it is not).

    Read once, when ingestion starts: the warehouse is locked by the run meanwhile, so no
    action can change the state under it.
    """
    locked: dict[tuple[str, int], str] = {}
    if ev.table_exists(con, "marts", "mart_collection_status"):
        for code, year, state, submission, by in con.execute(
            f"select participant_code, collection_year, state, approved_submission_id, "
            f"approved_by from {STATUS_VIEW} where locked"
        ).fetchall():
            locked[(code, int(year))] = (
                f"{code} {year} is {state} (submission {submission}, approved by {by}); "
                "a new file is used only after the collection team reopens it"
            )

    def check(participant: str, year: int) -> str | None:
        return locked.get((participant.upper(), int(year)))

    return check
