"""Publish a release: an immutable folder that analysts open read-only.

A release is assembled in `releases/.incoming-<id>/`, fsynced, renamed to
`releases/<id>/` (atomic on one filesystem) and only then is `releases/current`
switched, by replacing a symlink (also atomic). A publish killed at any point
leaves `current` on the previous complete release; a half-built folder is hidden
(dot-prefixed) and never listed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion.dictionary import SEEDS_DIR
from ingestion.home import Home

RELEASE_DB = "mhbench.duckdb"
MANIFEST = "manifest.json"
INCOMING_PREFIX = ".incoming-"
# Text starting with one of = + - @ tab CR is read as a formula by spreadsheets:
# such text gets a leading quote in every CSV the platform writes.
CSV_FORMULA_PATTERN = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    manifest: dict

    @property
    def database(self) -> Path:
        return self.path / RELEASE_DB


def new_release_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def dictionary_version() -> str:
    digest = hashlib.sha256()
    for seed in sorted(SEEDS_DIR.glob("*.csv")):
        digest.update(seed.name.encode())
        digest.update(seed.read_bytes())
    return digest.hexdigest()[:16]


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _csv_safe_select(con, table: str) -> str:
    """A SELECT that prefixes a quote to text a spreadsheet would evaluate as a formula."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    parts = []
    for name, data_type in columns:
        quoted = f'"{name}"'
        if data_type.upper() == "VARCHAR":
            parts.append(
                f"case when regexp_matches({quoted}, '{CSV_FORMULA_PATTERN}') "
                f"then '''' || {quoted} else {quoted} end as {quoted}"
            )
        else:
            parts.append(quoted)
    return f"select {', '.join(parts)} from marts.{table}"


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch_current(home: Home, release_id: str) -> None:
    """Point releases/current at release_id atomically (symlink + rename)."""
    tmp = home.releases / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(release_id, target_is_directory=True)
    os.replace(tmp, home.current_release)
    fd = os.open(home.releases, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_release(
    home: Home,
    marts: list[str],
    checks: list[dict],
    release_id: str | None = None,
) -> Release:
    """Copy the marts of the build warehouse into a new release and make it current."""
    import duckdb

    release_id = release_id or new_release_id()
    final = home.releases / release_id
    if final.exists():
        raise FileExistsError(f"release {release_id} already exists; releases are immutable")
    staging = home.releases / f"{INCOMING_PREFIX}{release_id}"
    (staging / "parquet").mkdir(parents=True)
    (staging / "csv").mkdir()

    with duckdb.connect(str(staging / RELEASE_DB)) as con:
        con.execute(f"attach '{home.warehouse}' as build (read_only)")
        con.execute("create schema marts")
        row_counts = {}
        for mart in marts:
            con.execute(f"create table marts.{mart} as select * from build.marts.{mart}")
            row_counts[mart] = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            con.execute(
                f"copy marts.{mart} to '{staging / 'parquet' / (mart + '.parquet')}' "
                "(format parquet, compression zstd)"
            )
            con.execute(
                f"copy ({_csv_safe_select(con, mart)}) to '{staging / 'csv' / (mart + '.csv')}' "
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
                "select submission_id, participant_code, collection_year, file_sha256 "
                "from build.intermediate.int_latest_submissions "
                "order by participant_code, collection_year"
            ).fetchall()
        ]
        con.execute("detach build")

    manifest = {
        "release_id": release_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "dictionary_version": dictionary_version(),
        "marts": row_counts,
        "submissions": submissions,
        "checks": checks,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    _fsync_tree(staging)
    os.rename(staging, final)
    switch_current(home, release_id)
    return Release(release_id, final, manifest)


def list_releases(home: Home) -> list[Release]:
    """Complete releases, oldest first (half-built `.incoming-*` folders are never listed)."""
    releases = []
    if not home.releases.exists():
        return releases
    for path in sorted(home.releases.iterdir()):
        if path.name.startswith(".") or path.is_symlink() or not path.is_dir():
            continue
        manifest_path = path / MANIFEST
        if manifest_path.exists():
            releases.append(Release(path.name, path, json.loads(manifest_path.read_text())))
    return releases


def current_release(home: Home) -> Release | None:
    link = home.current_release
    if not link.exists():
        return None
    path = link.resolve()
    return Release(path.name, path, json.loads((path / MANIFEST).read_text()))
