"""Content validation findings for people: query `marts.mart_validation_findings` and render it.

Used by `mhbench findings --year 2024 [--participant SE] [--format table|csv|json]` and by the
Dagster findings assets. Every function takes an open DuckDB connection, so the same code
reads a published release (`releases/current/mhbench.duckdb`) or the build warehouse.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import duckdb
    from rich.table import Table

FINDINGS_TABLE = "marts.mart_validation_findings"
COLUMNS = (
    "participant_code",
    "collection_year",
    "severity",
    "rule_id",
    "kind",
    "message",
    "items_involved",
    "values_involved",
    "explained",
    "submitter_comment",
    "submission_id",
    "finding_id",
    "rule_description",
)
# Errors first, then unexplained warnings, then explained ones.
_ORDER = (
    "participant_code, collection_year, case severity when 'error' then 0 else 1 end, "
    "explained, rule_id, subject_code"
)
Format = Literal["table", "csv", "json"]
FORMATS: tuple[str, ...] = ("table", "csv", "json")


def findings_rows(
    con: duckdb.DuckDBPyConnection, year: int, participant: str | None = None
) -> list[dict]:
    """Findings of one collection year (optionally one participant), errors first."""
    where = ["collection_year = ?"]
    params: list[object] = [int(year)]
    if participant:
        where.append("participant_code = ?")
        params.append(participant.strip().upper())
    cursor = con.execute(
        f"select {', '.join(COLUMNS)} from {FINDINGS_TABLE} "
        f"where {' and '.join(where)} order by {_ORDER}",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def findings_by_submission(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    """Every finding, grouped by the submission it belongs to (for the submitter reports)."""
    cursor = con.execute(f"select {', '.join(COLUMNS)} from {FINDINGS_TABLE} order by {_ORDER}")
    names = [d[0] for d in cursor.description]
    grouped: dict[str, list[dict]] = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        grouped.setdefault(record["submission_id"], []).append(record)
    return grouped


def severity_counts(rows: Sequence[dict]) -> dict[str, int]:
    """errors, warnings, warnings_explained and warnings_open of a list of findings."""
    errors = sum(1 for r in rows if r["severity"] == "error")
    explained = sum(1 for r in rows if r["severity"] == "warning" and r["explained"])
    warnings = len(rows) - errors
    return {
        "errors": errors,
        "warnings": warnings,
        "warnings_explained": explained,
        "warnings_open": warnings - explained,
    }


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _csv_cell(value: object) -> object:
    """Text a spreadsheet would evaluate as a formula gets a leading quote (comments are untrusted)."""
    value = _plain(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render(rows: Sequence[dict], fmt: Format = "table") -> Table | str:
    """A rich Table for `table`; CSV text (header row) for `csv`; a JSON array for `json`."""
    if fmt == "json":
        return json.dumps(
            [{k: _plain(v) for k, v in r.items()} for r in rows], indent=2, ensure_ascii=False
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_cell(r.get(k)) for k in COLUMNS})
        return buffer.getvalue()
    if fmt == "table":
        return _table(rows)
    raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _table(rows: Sequence[dict]) -> Table:
    from rich.table import Table
    from rich.text import Text

    counts = severity_counts(rows)
    table = Table(
        title=(
            f"{counts['errors']} error(s), {counts['warnings']} warning(s) "
            f"({counts['warnings_explained']} explained)"
        ),
        header_style="bold",
        show_lines=False,
    )
    for name in ("participant", "year", "severity", "rule", "finding", "explained", "comment"):
        table.add_column(name, overflow="fold")
    for r in rows:
        style = "red" if r["severity"] == "error" else "yellow"
        # Text, not str: messages and comments come from returns and are not rich markup.
        table.add_row(
            Text(str(r["participant_code"])),
            Text(str(r["collection_year"])),
            Text(str(r["severity"]), style),
            Text(str(r["rule_id"]), "dim"),
            Text(str(r["message"])),
            Text("yes" if r["explained"] else ("-" if r["severity"] == "error" else "no")),
            Text(str(r["submitter_comment"] or "")),
        )
    return table
