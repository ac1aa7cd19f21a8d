"""The change fingerprint: what a release would hold, as one digest.

A run computes it before dbt builds anything (orchestration/defs/dbt.py). Two runs with equal
fingerprints build equal marts and publish equal releases, so when the fingerprint equals the
one in the manifest of the latest release of the same kind, nothing is rebuilt or published
("nothing changed since release X").

Its parts, each a digest:
- `submissions`: every registered file (raw.submissions: sha256, status, partition, ...).
- `submission_events`: the status history, without the `published` events that a final
  release itself appends (so publishing does not change what the next run would publish).
- `workflow`: the collection workflow's events (sign-off, approval, reopen, queries), hence the
  approved set of a final release.
- `dictionary_version`: the seeds (data items, indicators, participants, flags, calendar).
- `code_version`: every file of the code that builds a release (ingestion, the dbt project,
  the suites, publishing, reporting, ...) and uv.lock: any edit counts, committed or not.
- `release_kind`, and the dbt vars: disclosure control thresholds and export settings.

The fingerprint is conservative: any change of these parts rebuilds, even one that would give
the same marts (a query asked, say). It never skips a change that could alter a release.

Each successful build is recorded in the warehouse (`meta.builds`), so a run that publishes
nothing (the inbox sensor's) can tell whether the warehouse already holds this build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from publishing.manifest import dictionary_version
from runtime.duckdb_tables import table_exists

REPO = Path(__file__).resolve().parent.parent
# What builds a release: the stage rooms, the dbt project and the locked dependencies.
_CODE_ROOTS = (
    "ingestion",
    "dbt_project/models",
    "dbt_project/macros",
    "dbt_project/tests",
    "dbt_project/dbt_project.yml",
    "dbt_project/profiles.yml",
    "expectations",
    "publishing",
    "reporting",
    "workflow",
    "runtime",
    "orchestration",
    "uv.lock",
)
_CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".json", ".html", ".css", ".jinja", ".lock"}

BUILDS_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.builds (
    digest VARCHAR NOT NULL,
    release_kind VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    built_at TIMESTAMP NOT NULL,
    parts_json VARCHAR NOT NULL
);
"""


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    parts: dict[str, object]

    def as_manifest(self) -> dict:
        return {"digest": self.digest, "parts": self.parts}


def code_version_digest(root: Path = REPO) -> str:
    """sha256 (16 hex) over the path and bytes of every code file that builds a release."""
    digest = hashlib.sha256()
    for name in _CODE_ROOTS:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in _CODE_SUFFIXES and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(root)).encode())
                digest.update(b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _table_digest(con, sql: str) -> str:
    """md5 of a query's rows, each row as text, in a fixed order (empty: no rows)."""
    return con.execute(
        f"select coalesce(md5(string_agg(row_text, chr(10) order by row_text)), '') from ({sql})"
    ).fetchone()[0]


def release_fingerprint(con, kind: str, dbt_vars: dict) -> Fingerprint:
    """The fingerprint of what a build of this warehouse would publish as a `kind` release."""
    from ingestion.registry import PUBLISHED

    parts: dict[str, object] = {"release_kind": kind}
    parts["submissions"] = (
        _table_digest(con, "select s::varchar as row_text from raw.submissions s")
        if table_exists(con, "raw", "submissions")
        else ""
    )
    parts["submission_events"] = (
        _table_digest(
            con,
            "select e::varchar as row_text from raw.submission_events e "
            f"where e.status <> '{PUBLISHED}'",
        )
        if table_exists(con, "raw", "submission_events")
        else ""
    )
    parts["workflow"] = (
        _table_digest(con, "select w::varchar as row_text from raw.workflow_events w")
        if table_exists(con, "raw", "workflow_events")
        else ""
    )
    parts["dictionary_version"] = dictionary_version()
    parts["code_version"] = code_version_digest()
    parts["dbt_vars"] = dbt_vars
    text = json.dumps(parts, sort_keys=True, default=str)
    return Fingerprint(hashlib.sha256(text.encode()).hexdigest()[:24], parts)


def record_build(con, fingerprint: Fingerprint, run_id: str) -> None:
    """Note in the warehouse that it now holds the build of `fingerprint` (after dbt succeeded)."""
    con.execute(BUILDS_DDL)
    con.execute(
        "insert into meta.builds values (?, ?, ?, current_timestamp, ?)",
        [
            fingerprint.digest,
            str(fingerprint.parts["release_kind"]),
            run_id,
            json.dumps(fingerprint.parts, sort_keys=True, default=str),
        ],
    )


def build_of_run(con, run_id: str) -> Fingerprint | None:
    """The fingerprint of the build made by run `run_id` (None: that run built nothing)."""
    if not table_exists(con, "meta", "builds"):
        return None
    row = con.execute(
        "select digest, parts_json from meta.builds where run_id = ? "
        "order by built_at desc limit 1",
        [run_id],
    ).fetchone()
    return Fingerprint(row[0], json.loads(row[1])) if row else None


@dataclass(frozen=True)
class Build:
    fingerprint: Fingerprint
    run_id: str


def last_build(con) -> Build | None:
    """The build the warehouse holds now (None: none recorded, e.g. built by an older version)."""
    if not table_exists(con, "meta", "builds"):
        return None
    row = con.execute(
        "select digest, parts_json, run_id from meta.builds order by built_at desc limit 1"
    ).fetchone()
    return Build(Fingerprint(row[0], json.loads(row[1])), row[2]) if row else None


def release_fingerprint_digest(manifest: dict) -> str | None:
    """The fingerprint a release was published from (None: a release made before them)."""
    fingerprint = manifest.get("fingerprint")
    return fingerprint.get("digest") if isinstance(fingerprint, dict) else None
