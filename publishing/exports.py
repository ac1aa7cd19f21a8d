"""The marts of the build warehouse, copied into a release: DuckDB, Parquet and CSV.

Text that a spreadsheet would run as a formula gets a leading quote in every CSV
(`runtime.spreadsheet.FORMULA_START`, the one home of that rule).
"""

from __future__ import annotations

import re
from pathlib import Path

from runtime.home import Home
from runtime.spreadsheet import FORMULA_START_SQL_PATTERN

RELEASE_DB = "mhbench.duckdb"
# The field names of a DuckDB STRUCT type as information_schema spells it (names may be quoted).
_STRUCT_FIELD = re.compile(r'[(,]\s*("[^"]+"|\w+)\s')


def csv_safe_select(con, table: str, schema: str = "marts") -> str:
    """A SELECT for a CSV of the table: list columns flattened to text (`csv_list_text`), and
    a quote prefixed to text a spreadsheet would evaluate as a formula."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    parts = []
    for name, data_type in columns:
        quoted = f'"{name}"'
        if data_type.upper() == "VARCHAR":
            text = quoted
        elif data_type.endswith("[]"):
            text = csv_list_text(quoted, data_type)
        else:
            parts.append(quoted)
            continue
        parts.append(
            f"case when regexp_matches({text}, '{FORMULA_START_SQL_PATTERN}') "
            f"then '''' || {text} else {text} end as {quoted}"
        )
    return f"select {', '.join(parts)} from {schema}.{table}"


def csv_list_text(column: str, data_type: str) -> str:
    """SQL flattening a list column into one CSV cell, its items joined by "; ".

    A list of participants with a value (structs with `participant_code` and `value`, e.g.
    mart_lines_of_enquiry.peers) reads `NO (12.3); GB-SCT (11.9)`: the value with 1 decimal
    (2 significant digits below 1). Any other list reads as its items' text. Parquet and the
    release's DuckDB file keep the list.
    """
    fields = {f.strip().strip('"').lower() for f in _STRUCT_FIELD.findall(data_type)}
    if data_type.upper().startswith("STRUCT(") and {"participant_code", "value"} <= fields:
        value = (
            "case when abs(p.value) >= 1 then cast(round(p.value, 1) as varchar) "
            "else format('{:.2g}', p.value) end"
        )
        item = f"p.participant_code || coalesce(' (' || {value} || ')', '')"
        return f"array_to_string(list_transform({column}, lambda p: {item}), '; ')"
    return f"array_to_string({column}, '; ')"


def copy_marts(home: Home, staging: Path, marts: list[str]) -> tuple[dict, list[dict]]:
    import duckdb

    row_counts = {}
    with duckdb.connect(str(staging / RELEASE_DB)) as con:
        con.execute(f"attach '{home.warehouse}' as build (read_only)")
        con.execute("create schema marts")
        for mart in marts:
            con.execute(f"create table marts.{mart} as select * from build.marts.{mart}")
            row_counts[mart] = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            con.execute(
                f"copy marts.{mart} to '{staging / 'parquet' / (mart + '.parquet')}' "
                "(format parquet, compression zstd)"
            )
            con.execute(
                f"copy ({csv_safe_select(con, mart)}) to '{staging / 'csv' / (mart + '.csv')}' "
                "(format csv, header true)"
            )
        submissions = [
            dict(
                zip(
                    ("submission_id", "participant_code", "collection_year", "file_sha256"),
                    r,
                    strict=True,
                )
            )
            for r in con.execute(
                # the submissions the release holds: those of its participant-years
                "select l.submission_id, l.participant_code, l.collection_year, l.file_sha256 "
                "from build.intermediate.int_latest_submissions l "
                "join build.intermediate.int_release_scope s using (submission_id) "
                "order by l.participant_code, l.collection_year"
            ).fetchall()
        ]
        con.execute("detach build")
        con.execute("checkpoint")
    return row_counts, submissions
