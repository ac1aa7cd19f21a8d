"""Content validation findings: the queries on `marts.mart_validation_findings`.

Used by `mhbench findings --year 2024 [--participant SE]` (which prints them through
`cli/output.py`) and by the Dagster findings assets. Every function takes an open DuckDB
connection, so the same code reads a published release (`releases/current/mhbench.duckdb`)
or the build warehouse.

Two texts per finding (dbt `int_validation_findings`): the published mart quotes published
figures only (rounded counts, 1-7 for a suppressed count), and that is what `findings_rows`
reads. The submitter's own report, which is not published, quotes their exact values:
`findings_by_submission` reads those from the build warehouse (`EXACT_FINDINGS_TABLE`, which a
release does not contain).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

FINDINGS_TABLE = "marts.mart_validation_findings"
EXACT_FINDINGS_TABLE = "intermediate.int_validation_findings"
# The team's view in the build warehouse: every finding of every submission that counts (the
# published mart holds those of the release's participant-years only), published texts under
# the same column names.
WAREHOUSE_FINDINGS_TABLE = EXACT_FINDINGS_TABLE
# The exact texts, under the names the published mart gives the published ones.
_EXACT_TEXTS = {"message": "message_exact", "values_involved": "values_involved_exact"}
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


def findings_rows(
    con: duckdb.DuckDBPyConnection,
    year: int,
    participant: str | None = None,
    table: str = FINDINGS_TABLE,
) -> list[dict]:
    """Findings of one collection year (optionally one participant), errors first: of a
    release (`FINDINGS_TABLE`), or all of the build warehouse (`WAREHOUSE_FINDINGS_TABLE`)."""
    where = ["collection_year = ?"]
    params: list[object] = [int(year)]
    if participant:
        where.append("participant_code = ?")
        params.append(participant.strip().upper())
    cursor = con.execute(
        f"select {', '.join(COLUMNS)} from {table} where {' and '.join(where)} order by {_ORDER}",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def findings_by_submission(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    """Every finding with its exact text (the values as submitted), grouped by the submission
    it belongs to: for the submitters' own reports, never for anything published. Reads the
    build warehouse."""
    columns = ", ".join(f"{_EXACT_TEXTS[c]} as {c}" if c in _EXACT_TEXTS else c for c in COLUMNS)
    cursor = con.execute(f"select {columns} from {EXACT_FINDINGS_TABLE} order by {_ORDER}")
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
