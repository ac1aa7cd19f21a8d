"""The submission registry on a real DuckDB file: archive, tables, events, inbox scan."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.partitions import ReturnPartition
from ingestion.records import Issue, ParsedReturn, ReturnValue
from ingestion.registry import (
    current_status,
    ensure_schema,
    inbox_files,
    ingest_inbox,
    mark_published,
    register,
    submission_history,
)
from reporting.submitter_report import write_html
from runtime.home import Home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def con(home: Home):
    connection = duckdb.connect(str(home.warehouse))
    ensure_schema(connection)
    yield connection
    connection.close()


def accepted_return(code: str = "SE", year: int = 2023, n: int = 3, scale: float = 1.0):
    values = [
        ReturnValue(f"ITEM_{i:03}", float(i) * scale, None, None, f"Data!D{i + 2}")
        for i in range(n)
    ]
    values.append(ReturnValue("ITEM_NA", None, "NA", "no such service", f"Data!D{n + 2}"))
    return ParsedReturn(
        file_format="xlsx",
        about={
            "participant_code": code,
            "participant_name": "Sweden",
            "collection_year": year,
            "period_start": date(year, 1, 1),
            "period_end": "2023-12-31",
            "currency": "SEK",
            "template_version": "1",
            "coverage_note": None,
        },
        values=values,
        issues=[Issue("odd", "Data!D3", "1", "2", "looks odd", severity="warning")],
    )


def rejected_return() -> ParsedReturn:
    parsed = accepted_return()
    parsed.issues.append(
        Issue("not_a_number", "Data!D7", "<script>", "a number", "Value is not a number")
    )
    return parsed


def write_file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def table_count(con, table: str, submission_id: str | None = None) -> int:
    if submission_id is None:
        return con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
    return con.execute(
        f"SELECT count(*) FROM raw.{table} WHERE submission_id = ?", [submission_id]
    ).fetchone()[0]


def test_ensure_schema_is_idempotent(con):
    ensure_schema(con)
    ensure_schema(con)
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' ORDER BY 1"
    ).fetchall()
    assert [t[0] for t in tables] == ["return_values", "submission_events", "submissions"]


def test_register_accepted(con, home):
    path = write_file(home.inbox_year(2023) / "Sweden 2023.XLSX", b"fake workbook bytes 1")
    received = datetime(2024, 3, 1, 12, 0)
    sub = register(
        con,
        home,
        path,
        accepted_return(),
        inbox_year=2023,
        received_at=received,
        render_report=write_html,
    )

    sha = hashlib.sha256(b"fake workbook bytes 1").hexdigest()
    assert sub.submission_id == sha[:16]
    assert sub.file_sha256 == sha
    assert sub.status == "accepted"
    assert sub.is_new
    assert (sub.participant_code, sub.collection_year) == ("SE", 2023)
    assert (sub.error_count, sub.warning_count) == (0, 1)

    archive = home.archive / f"{sha}.xlsx"
    assert archive.exists()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == sha

    row = con.execute(
        """
        SELECT original_filename, inbox_path, archive_path, inbox_year, received_at, file_format,
               participant_code, collection_year, participant_name, period_start, period_end,
               currency, template_version, coverage_note, status, error_count, warning_count,
               issues_json, report_path
        FROM raw.submissions WHERE submission_id = ?
        """,
        [sub.submission_id],
    ).fetchone()
    assert row[:17] == (
        "Sweden 2023.XLSX",
        "inbox/2023/Sweden 2023.XLSX",
        f"archive/{sha}.xlsx",
        2023,
        received,
        "xlsx",
        "SE",
        2023,
        "Sweden",
        date(2023, 1, 1),
        date(2023, 12, 31),
        "SEK",
        "1",
        None,
        "accepted",
        0,
        1,
    )
    assert json.loads(row[17]) == [
        {
            "code": "odd",
            "place": "Data!D3",
            "value": "1",
            "expected": "2",
            "message": "looks odd",
            "severity": "warning",
        }
    ]
    assert row[18] == f"reports/{sub.submission_id}.html"
    assert sub.report_path == home.reports / f"{sub.submission_id}.html"
    assert sub.report_path.exists()  # rendered by the renderer it was handed
    assert (home.reports / f"{sub.submission_id}.json").exists()

    values = con.execute(
        """
        SELECT submission_id, participant_code, collection_year, item_code, value, flag,
               comment, source_place
        FROM raw.return_values ORDER BY source_place
        """
    ).fetchall()
    assert values == [
        (sub.submission_id, "SE", 2023, "ITEM_000", 0.0, None, None, "Data!D2"),
        (sub.submission_id, "SE", 2023, "ITEM_001", 1.0, None, None, "Data!D3"),
        (sub.submission_id, "SE", 2023, "ITEM_002", 2.0, None, None, "Data!D4"),
        (sub.submission_id, "SE", 2023, "ITEM_NA", None, "NA", "no such service", "Data!D5"),
    ]

    history = submission_history(con, sub.submission_id)
    assert [(e.status, e.detail) for e in history] == [
        ("received", "Sweden 2023.XLSX"),
        ("accepted", "0 error(s), 1 warning(s)"),
    ]
    assert history[0].event_at == received


def test_register_rejected(con, home):
    path = write_file(home.inbox_year(2023) / "bad.csv", b"participant_code,broken\n")
    sub = register(con, home, path, rejected_return(), inbox_year=2023)

    assert sub.status == "rejected"
    assert (sub.error_count, sub.warning_count) == (1, 1)
    assert [i.code for i in sub.issues] == ["odd", "not_a_number"]
    assert table_count(con, "submissions") == 1
    assert table_count(con, "return_values") == 0
    status = con.execute("SELECT status FROM raw.submissions").fetchone()[0]
    assert status == "rejected"
    assert [e.status for e in submission_history(con, sub.submission_id)] == [
        "received",
        "rejected",
    ]
    report = json.loads((home.reports / f"{sub.submission_id}.json").read_text())
    assert report["status"] == "rejected"
    assert report["counts"]["errors"] == 1
    assert (home.archive / f"{sub.file_sha256}.csv").exists()


def test_same_bytes_twice_is_one_submission(con, home):
    first = write_file(home.inbox_year(2023) / "a.xlsx", b"same bytes")
    second = write_file(home.inbox_year(2023) / "copy of a.xlsx", b"same bytes")
    one = register(con, home, first, accepted_return(), inbox_year=2023)
    two = register(con, home, second, accepted_return(), inbox_year=2023)

    assert one.is_new and not two.is_new
    assert two.submission_id == one.submission_id
    assert two.original_filename == "a.xlsx"
    assert table_count(con, "submissions") == 1
    assert table_count(con, "return_values") == 4
    assert table_count(con, "submission_events") == 2
    assert len(list(home.archive.iterdir())) == 1


def test_a_newer_file_is_registered_and_nothing_is_decided(con, home):
    """Which accepted submission counts is dbt's decision (int_latest_submissions): the
    registry appends the new file's own events and changes nothing about the older ones."""
    old = write_file(home.inbox_year(2023) / "v1.xlsx", b"version 1")
    new = write_file(home.inbox_year(2023) / "v2.xlsx", b"version 2")
    bad = write_file(home.inbox_year(2023) / "v3.xlsx", b"version 3 broken")
    s1 = register(
        con, home, old, accepted_return(), inbox_year=2023, received_at=datetime(2024, 3, 1)
    )
    s2 = register(
        con,
        home,
        new,
        accepted_return(scale=2.0),
        inbox_year=2023,
        received_at=datetime(2024, 3, 5),
    )
    s3 = register(
        con, home, bad, rejected_return(), inbox_year=2023, received_at=datetime(2024, 3, 9)
    )

    for sub, status in ((s1, "accepted"), (s2, "accepted"), (s3, "rejected")):
        assert [e.status for e in submission_history(con, sub.submission_id)] == [
            "received",
            status,
        ]
        assert current_status(con, sub.submission_id) == status
    assert table_count(con, "submission_events") == 6
    # values stay append-only: both versions are kept, by submission
    assert table_count(con, "return_values", s1.submission_id) == 4
    assert table_count(con, "return_values", s2.submission_id) == 4


def test_superseded_events_of_older_warehouses_stay_in_the_history(con, home):
    """Warehouses written before dbt alone decided hold `superseded` events: history, kept and
    ordered after the registration, before a publication at the same moment."""
    path = write_file(home.inbox_year(2023) / "v1.xlsx", b"version 1")
    sub = register(
        con, home, path, accepted_return(), received_at=datetime(2024, 3, 1), inbox_year=2023
    )
    at = submission_history(con, sub.submission_id)[-1].event_at + timedelta(days=1)
    con.executemany(
        "INSERT INTO raw.submission_events VALUES (?, ?, ?, ?)",
        [
            (sub.submission_id, "published", at, "2024-03-05T000000"),
            (sub.submission_id, "superseded", at, "superseded by 0123456789abcdef"),
        ],
    )
    assert [e.status for e in submission_history(con, sub.submission_id)] == [
        "received",
        "accepted",
        "superseded",
        "published",
    ]


def test_mark_published(con, home):
    path = write_file(home.inbox_year(2023) / "a.xlsx", b"published bytes")
    sub = register(con, home, path, accepted_return(), inbox_year=2023)
    assert mark_published(con, [sub.submission_id, "unknown"], "2024-05-01T120000") == 1
    assert mark_published(con, [sub.submission_id], "2024-05-01T120000") == 0  # retry
    history = submission_history(con, sub.submission_id)
    assert [(e.status, e.detail) for e in history][-1] == ("published", "2024-05-01T120000")
    assert sum(e.status == "published" for e in history) == 1


def test_many_values_inserted(con, home):
    path = write_file(home.inbox_year(2023) / "big.csv", b"big")
    sub = register(con, home, path, accepted_return(n=5000), inbox_year=2023)
    total = con.execute(
        "SELECT count(*), sum(value) FROM raw.return_values WHERE submission_id = ?",
        [sub.submission_id],
    ).fetchone()
    assert total == (5001, float(sum(range(5000))))


class FakeCheck:
    """Stands in for ingestion.check.check_return and records what it was asked."""

    def __init__(self):
        self.calls: list[tuple[str, int | None]] = []

    def __call__(self, path: Path, *, expected_year=None, dictionary=None) -> ParsedReturn:
        self.calls.append((path.name, expected_year))
        if b"broken" in path.read_bytes():
            return rejected_return()
        return accepted_return(code=path.stem.split("_")[0], year=expected_year or 2023)


def test_ingest_inbox(con, home):
    write_file(home.inbox_year(2023) / "SE_2023.xlsx", b"sweden 2023")
    write_file(home.inbox_year(2023) / "NO_2023.xlsx", b"norway 2023 broken")
    write_file(home.inbox_year(2022) / "SE_2022.xlsx", b"sweden 2022")
    write_file(home.inbox_year(2023) / ".DS_Store", b"finder")
    write_file(home.inbox_year(2023) / "~$SE_2023.xlsx", b"lock")
    write_file(home.inbox / ".hidden" / "x.xlsx", b"hidden folder")
    write_file(home.inbox / "DK_2023.xlsx", b"denmark in the root")
    stamp = datetime(2024, 2, 3, 4, 5, 6).timestamp()
    os.utime(home.inbox_year(2022) / "SE_2022.xlsx", (stamp, stamp))

    seen: list[str] = []
    check = FakeCheck()
    subs = ingest_inbox(con, home, on_file=lambda p, s: seen.append(p.name), check=check)

    assert check.calls == [
        ("SE_2022.xlsx", 2022),
        ("NO_2023.xlsx", 2023),
        ("SE_2023.xlsx", 2023),
        ("DK_2023.xlsx", None),
    ]
    assert seen == ["SE_2022.xlsx", "NO_2023.xlsx", "SE_2023.xlsx", "DK_2023.xlsx"]
    assert [(s.original_filename, s.status, s.is_new) for s in subs] == [
        ("SE_2022.xlsx", "accepted", True),
        ("NO_2023.xlsx", "rejected", True),
        ("SE_2023.xlsx", "accepted", True),
        ("DK_2023.xlsx", "accepted", True),
    ]
    assert subs[3].issues[-1].code == "misplaced_file"
    rows = con.execute(
        "SELECT original_filename, inbox_year, received_at FROM raw.submissions ORDER BY 1"
    ).fetchall()
    assert [r[:2] for r in rows] == [
        ("DK_2023.xlsx", None),
        ("NO_2023.xlsx", 2023),
        ("SE_2022.xlsx", 2022),
        ("SE_2023.xlsx", 2023),
    ]
    # received_at is the file's modification time, stored as UTC
    assert rows[2][2] == datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
    assert table_count(con, "return_values") == 3 * 4

    # second scan: nothing parsed again, nothing added
    check.calls.clear()
    again = ingest_inbox(con, home, check=check)
    assert check.calls == []
    assert [s.is_new for s in again] == [False] * 4
    assert [s.submission_id for s in again] == [s.submission_id for s in subs]
    assert table_count(con, "submissions") == 4
    assert table_count(con, "return_values") == 12

    # a resubmission for SE 2023 is registered beside the first (dbt decides which counts)
    write_file(home.inbox_year(2023) / "SE_2023_v2.xlsx", b"sweden 2023 v2")
    newest = [s for s in ingest_inbox(con, home, check=check) if s.is_new]
    assert [s.original_filename for s in newest] == ["SE_2023_v2.xlsx"]
    assert [s.status for s in newest] == ["accepted"]
    assert check.calls == [("SE_2023_v2.xlsx", 2023)]
    assert current_status(con, subs[2].submission_id) == "accepted"


def test_inbox_files_order_and_skips(home):
    write_file(home.inbox_year(2024) / "b.csv", b"1")
    write_file(home.inbox_year(2023) / "z.xlsx", b"2")
    write_file(home.inbox_year(2023) / "a.xlsx", b"3")
    write_file(home.inbox / "notes" / "n.csv", b"4")
    write_file(home.inbox_year(2023) / "~$a.xlsx", b"lock")
    write_file(home.inbox_year(2023) / "._a.xlsx", b"apple double")
    got = [(p.relative_to(home.inbox).as_posix(), y) for p, y in inbox_files(home)]
    assert got == [
        ("2023/a.xlsx", 2023),
        ("2023/z.xlsx", 2023),
        ("2024/b.csv", 2024),
        ("notes/n.csv", None),
    ]


def test_ingest_empty_or_missing_inbox(con, tmp_path):
    assert ingest_inbox(con, Home(tmp_path / "nowhere"), check=FakeCheck()) == []


def test_ingest_inbox_only_the_selected_partitions(con, home):
    write_file(home.inbox_year(2023) / "SE_2023.xlsx", b"sweden 2023")
    write_file(home.inbox_year(2023) / "NO_2023.xlsx", b"norway 2023")
    write_file(home.inbox_year(2022) / "SE_2022.xlsx", b"sweden 2022")
    check = FakeCheck()

    subs = ingest_inbox(con, home, check=check, partitions={ReturnPartition(2023, "SE")})
    assert [s.original_filename for s in subs] == ["SE_2023.xlsx"]
    # the other files were read to find their partition, but nothing of them is registered
    assert table_count(con, "submissions") == 1

    # registered files keep their partition without being read again
    check.calls.clear()
    subs = ingest_inbox(
        con,
        home,
        check=check,
        partitions={ReturnPartition(2023, "SE"), ReturnPartition(2022, "SE")},
    )
    assert [(s.original_filename, s.is_new) for s in subs] == [
        ("SE_2022.xlsx", True),
        ("SE_2023.xlsx", False),
    ]
    assert ("SE_2023.xlsx", 2023) not in check.calls
    assert table_count(con, "submissions") == 2
