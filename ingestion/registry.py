"""The submission registry: every file received, in DuckDB schema `raw` (append-only).

A submission is identified by the bytes of its file: `submission_id` is the first
16 hex digits of the sha256, so the same file dropped twice is one submission.
Every file is archived under `archive/<sha256><ext>`, validated, and registered
as `accepted` or `rejected`, or `held` when it passed validation but arrived for a
participant-year that is approved and so locked (the collection workflow: it is used only
once the participant-year is reopened). Accepted and held submissions have rows in
`raw.return_values`. Rows are never updated: what happens to a submission later
(published in a release) is appended to `raw.submission_events`.

The registry records and decides nothing: which accepted submission counts for a
participant and year (the one received last) is decided by dbt alone, in
`int_latest_submissions`, and `int_submissions` says which one superseded the others.
Warehouses written before that hold `superseded` events; they stay, as history.

Paths stored in the tables are relative to MHBENCH_HOME (posix style, e.g.
`archive/<sha256>.xlsx`) when they lie inside it, so the warehouse stays valid if
the home directory moves; paths outside it are stored absolute.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Container
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.calendar import load_calendar
from ingestion.partitions import ReturnPartition, partition_for, partition_of_parsed
from ingestion.records import Issue, ParsedReturn
from ingestion.report import report_html_path, write_report
from runtime.duckdb_transaction import transaction
from runtime.home import Home
from runtime.warehouse import table_ddl

if TYPE_CHECKING:
    import duckdb

    from ingestion.dictionary import Dictionary

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.submissions (
    submission_id VARCHAR PRIMARY KEY,
    file_sha256 VARCHAR NOT NULL,
    original_filename VARCHAR NOT NULL,
    inbox_path VARCHAR,
    archive_path VARCHAR NOT NULL,
    inbox_year INTEGER,
    received_at TIMESTAMP NOT NULL,
    file_format VARCHAR,
    participant_code VARCHAR,
    collection_year INTEGER,
    participant_name VARCHAR,
    period_start DATE,
    period_end DATE,
    currency VARCHAR,
    template_version VARCHAR,
    coverage_note VARCHAR,
    status VARCHAR NOT NULL,
    error_count INTEGER NOT NULL,
    warning_count INTEGER NOT NULL,
    issues_json VARCHAR NOT NULL,
    report_path VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.return_values (
    submission_id VARCHAR NOT NULL,
    participant_code VARCHAR,
    collection_year INTEGER,
    item_code VARCHAR,
    value DOUBLE,
    flag VARCHAR,
    comment VARCHAR,
    source_place VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.submission_events (
    submission_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    event_at TIMESTAMP NOT NULL,
    detail VARCHAR
);
"""

ACCEPTED = "accepted"
REJECTED = "rejected"
HELD = "held"
RECEIVED = "received"
PUBLISHED = "published"
# 'superseded' is no longer written, but older warehouses hold such events: ordered as before.
_EVENT_ORDER = f"""
    CASE status WHEN '{RECEIVED}' THEN 0 WHEN '{ACCEPTED}' THEN 1 WHEN '{REJECTED}' THEN 1
    WHEN '{HELD}' THEN 1 WHEN 'superseded' THEN 2 WHEN '{PUBLISHED}' THEN 3 ELSE 4 END
"""
_YEAR_DIR = re.compile(r"^\d{4}$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Submission:
    submission_id: str
    file_sha256: str
    original_filename: str
    status: str  # accepted | rejected | held, as registered
    participant_code: str | None
    collection_year: int | None
    error_count: int
    warning_count: int
    report_path: Path | None  # absolute path of the HTML report (JSON beside it)
    is_new: bool  # False when these bytes had been registered before
    issues: tuple[Issue, ...]


@dataclass(frozen=True)
class SubmissionEvent:
    submission_id: str
    status: str
    event_at: datetime
    detail: str | None


# --------------------------------------------------------------------------- helpers


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema `raw` and the registry tables if they do not exist (on DuckLake without
    the PRIMARY KEY it does not support: runtime/warehouse.py)."""
    con.execute(table_ddl(con, SCHEMA_SQL))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def submission_id_for(sha256: str) -> str:
    return sha256[:16]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _utc_naive(moment: datetime) -> datetime:
    """TIMESTAMP columns hold UTC without a zone; aware datetimes are converted."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _stored_path(home: Home, path: Path | None) -> str | None:
    if path is None:
        return None
    path = Path(path).absolute()
    try:
        return path.relative_to(home.root.absolute()).as_posix()
    except ValueError:
        return str(path)


def _home_path(home: Home, stored: str | None) -> Path | None:
    if not stored:
        return None
    path = Path(stored)
    return path if path.is_absolute() else home.root / path


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, Path(source).open("rb") as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _issues_from_json(text: str | None) -> tuple[Issue, ...]:
    if not text:
        return ()
    return tuple(Issue(**item) for item in json.loads(text))


def get_submission(
    con: duckdb.DuckDBPyConnection, home: Home, submission_id: str
) -> Submission | None:
    """The registered submission with this id, or None."""
    row = con.execute(
        """
        SELECT submission_id, file_sha256, original_filename, status, participant_code,
               collection_year, error_count, warning_count, report_path, issues_json
        FROM raw.submissions WHERE submission_id = ?
        """,
        [submission_id],
    ).fetchone()
    if row is None:
        return None
    return Submission(
        submission_id=row[0],
        file_sha256=row[1],
        original_filename=row[2],
        status=row[3],
        participant_code=row[4],
        collection_year=row[5],
        error_count=row[6],
        warning_count=row[7],
        report_path=_home_path(home, row[8]),
        is_new=False,
        issues=_issues_from_json(row[9]),
    )


# --------------------------------------------------------------------------- register


def _insert_values(con: duckdb.DuckDBPyConnection, submission_id: str, parsed: ParsedReturn):
    """All values of an accepted return in one INSERT (from an Arrow table)."""
    if not parsed.values:
        return
    import pyarrow as pa

    n = len(parsed.values)
    table = pa.table(
        {
            "submission_id": pa.array([submission_id] * n, pa.string()),
            "participant_code": pa.array([parsed.participant_code] * n, pa.string()),
            "collection_year": pa.array(
                [_int(parsed.about.get("collection_year"))] * n, pa.int32()
            ),
            "item_code": pa.array([v.item_code for v in parsed.values], pa.string()),
            "value": pa.array(
                [None if v.value is None else float(v.value) for v in parsed.values], pa.float64()
            ),
            "flag": pa.array([v.flag for v in parsed.values], pa.string()),
            "comment": pa.array([v.comment for v in parsed.values], pa.string()),
            "source_place": pa.array([v.place for v in parsed.values], pa.string()),
        }
    )
    name = f"_mhbench_values_{submission_id}"
    con.register(name, table)
    try:
        con.execute(
            f"""
            INSERT INTO raw.return_values
                (submission_id, participant_code, collection_year, item_code, value, flag,
                 comment, source_place)
            SELECT submission_id, participant_code, collection_year, item_code, value, flag,
                   comment, source_place
            FROM "{name}"
            """
        )
    finally:
        con.unregister(name)


# Renders the submitter's page from a report's JSON record; returns the page's path.
ReportRenderer = Callable[[Path], Path]
# Whether a participant-year is locked (approved), and why: None when it is not. Handed in by
# the caller (the workflow decides locks; ingestion only applies them).
LockCheck = Callable[[str, int], str | None]


def register(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    path: Path,
    parsed: ParsedReturn,
    *,
    inbox_year: int | None,
    received_at: datetime | None = None,
    render_report: ReportRenderer | None = None,
    locked: LockCheck | None = None,
) -> Submission:
    """Archive, report and register one received file (idempotent on its bytes).

    If these bytes were registered before, nothing changes and the existing
    submission is returned with `is_new=False`. `render_report` turns the JSON report into
    the submitter's HTML page (`reporting.submitter_report.write_html`); without it only the
    JSON is written. `locked` says whether the file's participant-year is approved: a file
    that passes validation for a locked one is registered `held`, with the reason in its report.
    """
    ensure_schema(con)
    path = Path(path)
    sha256 = file_sha256(path)
    existing = get_submission(con, home, submission_id_for(sha256))
    if existing is not None:
        return _same_bytes(existing, path, sha256)
    return _register_new(
        con,
        home,
        path,
        parsed,
        sha256,
        inbox_year=inbox_year,
        received_at=received_at,
        render_report=render_report,
        locked=locked,
    )


def _same_bytes(existing: Submission, path: Path, sha256: str) -> Submission:
    """The submission registered for these bytes (a 16-hex id shared by other bytes is an
    error, never a silent match)."""
    if existing.file_sha256 != sha256:
        raise RuntimeError(
            f"submission id {existing.submission_id} collision: {path} has sha256 {sha256}, "
            f"registered file has {existing.file_sha256}"
        )
    return existing


def _register_new(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    path: Path,
    parsed: ParsedReturn,
    sha256: str,
    *,
    inbox_year: int | None,
    received_at: datetime | None,
    render_report: ReportRenderer | None,
    locked: LockCheck | None,
) -> Submission:
    """`register` for bytes (`sha256`) not registered yet, the schema in place."""
    submission_id = submission_id_for(sha256)
    received_at = _utc_naive(received_at) if received_at is not None else _now()
    registered_at = _now()
    archive_path = home.archive / f"{sha256}{path.suffix.lower()}"
    if not archive_path.exists() or file_sha256(archive_path) != sha256:
        _copy_atomic(path, archive_path)

    about = parsed.about
    participant_code = _text(about.get("participant_code"))
    collection_year = _int(about.get("collection_year"))
    status = ACCEPTED if parsed.accepted else REJECTED
    held_because = None
    if status == ACCEPTED and locked is not None and participant_code and collection_year:
        held_because = locked(participant_code.upper(), collection_year)
        if held_because:
            status = HELD
    errors = sum(1 for i in parsed.issues if i.severity == "error")
    warnings = len(parsed.issues) - errors
    report_json = write_report(
        home, submission_id, path.name, sha256, parsed, status, received_at, held=held_because
    )
    # The page for people is rendered by reporting; the registry is handed the renderer.
    report_path = (
        render_report(report_json) if render_report else report_html_path(home, submission_id)
    )

    row = [
        submission_id,
        sha256,
        path.name,
        _stored_path(home, path),
        _stored_path(home, archive_path),
        inbox_year,
        received_at,
        parsed.file_format,
        participant_code,
        collection_year,
        _text(about.get("participant_name")),
        _date(about.get("period_start")),
        _date(about.get("period_end")),
        _text(about.get("currency")),
        _text(about.get("template_version")),
        _text(about.get("coverage_note")),
        status,
        errors,
        warnings,
        json.dumps([asdict(i) for i in parsed.issues], ensure_ascii=False),
        _stored_path(home, report_path),
    ]
    import duckdb

    try:
        with transaction(con):
            con.execute(f"INSERT INTO raw.submissions VALUES ({', '.join('?' * len(row))})", row)
            con.executemany(
                "INSERT INTO raw.submission_events VALUES (?, ?, ?, ?)",
                [
                    (submission_id, RECEIVED, received_at, path.name),
                    (
                        submission_id,
                        status,
                        registered_at,
                        f"{errors} error(s), {warnings} warning(s)",
                    ),
                ],
            )
            if status in (ACCEPTED, HELD):
                _insert_values(con, submission_id, parsed)
    except duckdb.ConstraintException:
        # Registered concurrently by someone else with the same bytes (rolled back).
        existing = get_submission(con, home, submission_id)
        if existing is None:
            raise
        return existing

    return Submission(
        submission_id=submission_id,
        file_sha256=sha256,
        original_filename=path.name,
        status=status,
        participant_code=participant_code,
        collection_year=collection_year,
        error_count=errors,
        warning_count=warnings,
        report_path=report_path,
        is_new=True,
        issues=tuple(parsed.issues),
    )


# --------------------------------------------------------------------------- inbox


def _skipped(relative: Path) -> bool:
    """Hidden files and folders, Excel lock files (`~$name.xlsx`), temp files."""
    return any(part.startswith((".", "~$")) for part in relative.parts) or relative.name.endswith(
        (".tmp", ".part", ".crdownload")
    )


def inbox_files(home: Home) -> list[tuple[Path, int | None]]:
    """Files in the inbox with the year of their folder, in a stable order.

    `inbox/<yyyy>/<file>` gives the year; any other place (the inbox root, a folder
    that is not a year, a sub-folder of a year) gives None and comes last.
    """
    if not home.inbox.is_dir():
        return []
    placed: list[tuple[int, str, Path]] = []
    misplaced: list[tuple[str, Path]] = []
    for path in home.inbox.rglob("*"):
        relative = path.relative_to(home.inbox)
        if _skipped(relative) or not path.is_file():
            continue
        if len(relative.parts) == 2 and _YEAR_DIR.match(relative.parts[0]):
            placed.append((int(relative.parts[0]), relative.name, path))
        else:
            misplaced.append((relative.as_posix(), path))
    ordered = [(p, y) for y, _, p in sorted(placed, key=lambda t: t[:2])]
    ordered += [(p, None) for _, p in sorted(misplaced, key=lambda t: t[0])]
    return ordered


def _misplaced_issue(home: Home, path: Path) -> Issue:
    relative = path.relative_to(home.inbox).as_posix()
    return Issue(
        code="misplaced_file",
        place="file",
        value=f"inbox/{relative}",
        expected="inbox/<collection year>/<file>",
        message=(
            "The file was not in a collection-year folder of the inbox; it was checked "
            "against the year stated in the file only."
        ),
        severity="warning",
    )


def ingest_inbox(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    dictionary: Dictionary | None = None,
    on_file: Callable[[Path, Submission], None] | None = None,
    *,
    check: Callable[..., ParsedReturn] | None = None,
    partitions: Container[ReturnPartition] | None = None,
    render_report: ReportRenderer | None = None,
    locked: LockCheck | None = None,
) -> list[Submission]:
    """Register every file in the inbox; return one Submission per file (is_new tells).

    Files whose bytes are already registered are not parsed again. Files outside a
    year folder are checked without an expected year and carry a `misplaced_file`
    warning. `received_at` is the file's modification time (when it landed in the
    inbox). `check` defaults to `ingestion.check.check_return`.

    With `partitions`, only the files of those partitions (collection year ×
    participant, see ingestion/partitions.py) are registered and returned; the others
    stay in the inbox untouched for the run of their own partition. `render_report` and
    `locked` are as for `register`.
    """
    if check is None:
        from ingestion.check import check_return as check
    ensure_schema(con)
    calendar = load_calendar() if partitions is not None else None
    submissions: list[Submission] = []
    for path, year in inbox_files(home):
        sha256 = file_sha256(path)
        submission = get_submission(con, home, submission_id_for(sha256))
        if submission is None:
            parsed = check(path, expected_year=year, dictionary=dictionary)
            if partitions is not None:
                partition = partition_of_parsed(parsed, year, calendar=calendar)
                if partition not in partitions:
                    continue
            if year is None:
                parsed.issues.append(_misplaced_issue(home, path))
            received_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            # checked, hashed and looked up above: registered without doing that again
            submission = _register_new(
                con,
                home,
                path,
                parsed,
                sha256,
                inbox_year=year,
                received_at=received_at,
                render_report=render_report,
                locked=locked,
            )
        else:
            _same_bytes(submission, path, sha256)
            if partitions is not None:
                partition = partition_for(
                    submission.participant_code,
                    year,
                    submission.collection_year,
                    calendar=calendar,
                )
                if partition not in partitions:
                    continue
        submissions.append(submission)
        if on_file is not None:
            on_file(path, submission)
    return submissions


# --------------------------------------------------------------------------- queries


def submission_history(con: duckdb.DuckDBPyConnection, submission_id: str) -> list[SubmissionEvent]:
    """The status history of one submission, oldest first."""
    ensure_schema(con)
    rows = con.execute(
        f"""
        SELECT submission_id, status, event_at, detail FROM raw.submission_events
        WHERE submission_id = ?
        ORDER BY event_at, {_EVENT_ORDER}, detail
        """,
        [submission_id],
    ).fetchall()
    return [SubmissionEvent(*row) for row in rows]


def current_status(con: duckdb.DuckDBPyConnection, submission_id: str) -> str | None:
    """The latest event of a submission: received, accepted, rejected or published.

    Whether an accepted submission still counts is not an event: see dbt's
    int_submissions (status counts or superseded).
    """
    history = submission_history(con, submission_id)
    return history[-1].status if history else None


def mark_published(
    con: duckdb.DuckDBPyConnection,
    submission_ids: list[str],
    release_id: str,
    *,
    published_at: datetime | None = None,
) -> int:
    """Append a `published` event (detail = release id) to each submission; return how many.

    Unknown ids and submissions already marked for this release are left out, so a
    retried publish does not duplicate events.
    """
    ensure_schema(con)
    if not submission_ids:
        return 0
    event_at = _utc_naive(published_at) if published_at is not None else _now()
    ids = sorted(set(submission_ids))
    with transaction(con):
        count = con.execute(
            f"""
            INSERT INTO raw.submission_events
            SELECT s.submission_id, '{PUBLISHED}', ?::TIMESTAMP, ?
            FROM raw.submissions s
            WHERE list_contains(?::VARCHAR[], s.submission_id)
              AND NOT EXISTS (
                  SELECT 1 FROM raw.submission_events e
                  WHERE e.submission_id = s.submission_id AND e.status = '{PUBLISHED}'
                    AND e.detail = ?)
            """,
            [event_at, release_id, ids, release_id],
        ).fetchone()[0]
    return int(count)
