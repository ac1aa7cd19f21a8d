"""The marts of the build warehouse, copied into a release: DuckDB, Parquet and CSV; then
the exports written from the release's own DuckDB: SDMX for partner agencies
(`publishing/sdmx.py`) and the workbook for members (`publishing/xlsx_export.py`).

The release database is written in DuckDB's v1.4.0 storage format (`RELEASE_STORAGE_VERSION`),
not the newest one of the duckdb the pipeline runs: analysts open it with the client they
have (R, Python, DBeaver, BI connectors), and DuckDB 1.4 and later read that format, while
a file in duckdb 2.0's own format is refused by every 1.x client ("version number 999").

Text that a spreadsheet would run as a formula gets a leading quote in every CSV
(`runtime.spreadsheet.FORMULA_START`, the one home of that rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from publishing.sdmx import SDMX_DIR, SdmxSettings
from runtime.home import Home
from runtime.spreadsheet import FORMULA_START_SQL_PATTERN
from runtime.warehouse import attach_warehouse

if TYPE_CHECKING:
    from runtime.module_process import ModuleProcess

RELEASE_DB = "mhbench.duckdb"
# The field names of a DuckDB STRUCT type as information_schema spells it (names may be quoted).
_STRUCT_FIELD = re.compile(r'[(,]\s*("[^"]+"|\w+)\s')
# The oldest DuckDB that opens a release (README: "Which DuckDB opens a release").
RELEASE_STORAGE_VERSION = "v1.4.0"


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
    with duckdb.connect() as con:
        # An explicit storage version: the default of duckdb 2.x is a format 1.x cannot read.
        con.execute(
            f"attach '{staging / RELEASE_DB}' as release (storage_version '{RELEASE_STORAGE_VERSION}')"
        )
        con.execute("use release")
        attach_warehouse(con, home.warehouse, "build", read_only=True)
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
        con.execute("checkpoint release")
        con.execute("use memory")
        con.execute("detach release")
    return row_counts, submissions


@dataclass(frozen=True)
class ExportSettings:
    """What the exports of a release need from the project: the SDMX agency and version,
    the disclosure thresholds (dbt vars), what each mart holds (its dbt description), and
    whether the release is a draft, which carries neither SDMX nor a workbook: those are for
    partner agencies and members, and a draft is "not for circulation" (DESIGN: a final
    release carries them). A draft is reviewed in its pages and its participants' packs."""

    sdmx: SdmxSettings
    suppress_max: int
    round_to: int
    mart_descriptions: dict[str, str] = field(default_factory=dict)
    draft: bool = False

    @classmethod
    def from_dbt_vars(
        cls, dbt_vars: dict, mart_descriptions: dict[str, str] | None = None, draft: bool = False
    ) -> ExportSettings:
        return cls(
            sdmx=SdmxSettings.from_dbt_vars(dbt_vars),
            suppress_max=int(dbt_vars["suppress_max"]),
            round_to=int(dbt_vars["round_to"]),
            mart_descriptions=dict(mart_descriptions or {}),
            draft=draft,
        )


def write_exports(
    home: Home, staging: Path, marts: list[str], manifest: dict, settings: ExportSettings
) -> tuple[dict, ModuleProcess | None]:
    """Write SDMX into the release being built and start its workbook (in a process of its
    own: wait for the job before the release's files are hashed); records in `manifest` the
    flags and the disclosure thresholds they document, and returns what is written. A draft
    records them too, and writes neither file (`{}` and no job)."""
    from publishing.reference import flags_to_manifest, read_flags
    from publishing.sdmx import write_sdmx
    from publishing.workbook_process import start_release_workbook
    from publishing.xlsx_export import disclosure_text, release_readme, release_workbook_name

    flags = read_flags(home.warehouse)
    manifest["flags"] = flags_to_manifest(flags)
    manifest["disclosure"] = {"suppress_max": settings.suppress_max, "round_to": settings.round_to}
    if settings.draft:
        return {}, None
    workbook = release_workbook_name(manifest["release_id"])
    readme = release_readme(
        manifest,
        marts,
        settings.mart_descriptions,
        [(f.flag, f.meaning, f.description) for f in flags],
        disclosure_text(settings.suppress_max, settings.round_to),
    )
    job = start_release_workbook(staging / RELEASE_DB, staging / workbook, marts, readme)
    try:
        observations = write_sdmx(staging / RELEASE_DB, flags, staging / SDMX_DIR, settings.sdmx)
    except BaseException:
        job.stop()
        raise
    written = {
        "sdmx": {
            "agency_id": settings.sdmx.agency_id,
            "version": settings.sdmx.version,
            "observations": {f"{SDMX_DIR}/{name}": n for name, n in observations.items()},
        },
        "xlsx": workbook,
    }
    return written, job
