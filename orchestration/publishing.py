"""Publish a release: an immutable folder that analysts open read-only.

A release is assembled in `releases/.incoming-<id>/`, fsynced, renamed to
`releases/<id>/` (atomic on one filesystem) and only then is `releases/current`
switched, by replacing a symlink (also atomic). A publish killed at any point
leaves `current` on a complete release; a half-built folder is hidden
(dot-prefixed), never listed, and removed by the next publish.

One publish at a time: `build_release` holds an exclusive lock on
`releases/.publish.lock` (released by the kernel when the process dies), so any
`.incoming-*` folder or `.current-*` link found while holding it belongs to a dead
publish and is safe to remove.

Test hook: with `MHBENCH_PUBLISH_PAUSE_AT=<stage>` in the environment, a publish
prints `mhbench-publish-paused <stage>` to stderr and sleeps at that stage (see
`PUBLISH_STAGES`), so a test can kill it there deterministically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ingestion.dictionary import SEEDS_DIR
from ingestion.home import Home

RELEASE_DB = "mhbench.duckdb"
MANIFEST = "manifest.json"
QUALITY_REPORT = "quality.html"
DBT_DOCS_INDEX = "docs/dbt/index.html"
GX_DOCS_DIR = "docs/gx"
GX_DOCS_INDEX = f"{GX_DOCS_DIR}/index.html"
INCOMING_PREFIX = ".incoming-"
CURRENT_TMP_PREFIX = ".current-"
PUBLISH_LOCK = ".publish.lock"
# Text starting with one of = + - @ tab CR is read as a formula by spreadsheets:
# such text gets a leading quote in every CSV the platform writes.
CSV_FORMULA_PATTERN = r"^[=+\-@\t\r]"

PAUSE_ENV = "MHBENCH_PUBLISH_PAUSE_AT"
PAUSE_SECONDS_ENV = "MHBENCH_PUBLISH_PAUSE_SECONDS"
PUBLISH_STAGES = (
    "after-mkdir",  # empty .incoming-<id>/ exists
    "after-copy",  # DuckDB, Parquet and CSV written in .incoming-<id>/
    "after-manifest",  # manifest.json written, not yet fsynced
    "after-fsync",  # every file of .incoming-<id>/ on disk
    "after-rename",  # releases/<id>/ complete, current not yet switched
    "before-switch",  # .current-<pid> symlink made, not yet renamed over current
    "after-switch",  # current points at the new release
)


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


def _pause_point(stage: str) -> None:
    """Test hook: stop at `stage` when MHBENCH_PUBLISH_PAUSE_AT names it."""
    if os.environ.get(PAUSE_ENV) != stage:
        return
    print(f"mhbench-publish-paused {stage}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "120")))


def _csv_safe_select(con, table: str, schema: str = "marts") -> str:
    """A SELECT that prefixes a quote to text a spreadsheet would evaluate as a formula."""
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
            parts.append(
                f"case when regexp_matches({quoted}, '{CSV_FORMULA_PATTERN}') "
                f"then '''' || {quoted} else {quoted} end as {quoted}"
            )
        else:
            parts.append(quoted)
    return f"select {', '.join(parts)} from {schema}.{table}"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file, then every directory (children before parents), to disk."""
    paths = sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in paths:
        if path.is_file() and not path.is_symlink():
            _fsync_path(path)
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            _fsync_path(path)
    _fsync_path(root)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def publish_lock(home: Home) -> Iterator[None]:
    """Exclusive lock for one publish at a time; the kernel drops it if the process dies."""
    home.releases.mkdir(parents=True, exist_ok=True)
    with (home.releases / PUBLISH_LOCK).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def clean_leftovers(home: Home) -> list[Path]:
    """Remove what killed publishes left behind: `.incoming-*` folders, `.current-*` links.

    Call it only while holding `publish_lock` (build_release does), so no live publish
    is using them.
    """
    removed = []
    if not home.releases.exists():
        return removed
    for path in sorted(home.releases.iterdir()):
        if path.name.startswith(CURRENT_TMP_PREFIX) and path.is_symlink():
            path.unlink()
            removed.append(path)
        elif path.name.startswith(INCOMING_PREFIX):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    if removed:
        _fsync_path(home.releases)
    return removed


def switch_current(home: Home, release_id: str) -> None:
    """Point releases/current at release_id atomically (symlink + rename)."""
    if not (home.releases / release_id / MANIFEST).exists():
        raise FileNotFoundError(f"no complete release {release_id} in {home.releases}")
    tmp = home.releases / f"{CURRENT_TMP_PREFIX}{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(release_id, target_is_directory=True)
    _pause_point("before-switch")
    os.replace(tmp, home.current_release)
    _fsync_path(home.releases)


def _copy_marts(home: Home, staging: Path, marts: list[str]) -> tuple[dict, list[dict]]:
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
        con.execute("checkpoint")
    return row_counts, submissions


_LOCAL_LINK = re.compile(r"""(?:href|src)=["']([^"'#?:]+)""")


# What a shipped page must not fetch: GE's templates load jQuery, Bootstrap and bootstrap-table
# from public CDNs and GE's logo from its S3 bucket (with a timestamp: a beacon).
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_EXTERNAL_TAG = re.compile(
    r"""<(?:link|img|iframe)\b[^>]*\b(?:href|src)=["']https?://[^>]*>""", re.IGNORECASE
)
_EXTERNAL_CSS_URL = re.compile(r"""url\(\s*['"]?https?://[^)]*\)""", re.IGNORECASE)
_OFFLINE_STYLE = """<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #cbd2d9;padding:.25rem .5rem;
vertical-align:top}.text-danger{color:#b42318}.text-success{color:#067647}
.mhbench-offline{background:#f5f7fa;border:1px solid #cbd2d9;padding:.75rem 1rem;margin-bottom:1rem}
</style>"""


def offline_page(html: str, links: list[tuple[str, str]] | None = None) -> str:
    """A GE Data Docs page that opens offline and fetches nothing from the network.

    Every script goes (they only drive widgets built on the CDN libraries), so do external
    stylesheets and images; a small inline stylesheet keeps tables readable. `links` (label,
    relative href) are listed at the top, for the index, whose table GE renders in JavaScript.
    """
    html = _EXTERNAL_TAG.sub("", _SCRIPT.sub("", html))
    html = _EXTERNAL_CSS_URL.sub("none", html)  # e.g. GE's dark-mode logo from S3
    html = re.sub(r"</head>", _OFFLINE_STYLE + "</head>", html, count=1, flags=re.IGNORECASE)
    if links:
        items = "".join(
            f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for label, href in links
        )
        block = (
            '<div class="mhbench-offline"><strong>Validations in this release</strong>'
            f"<ul>{items}</ul></div>"
        )
        html = re.sub(r"(<body\b[^>]*>)", lambda m: m.group(1) + block, html, count=1)
    return html


def copy_data_docs(site_dir: Path, dest: Path) -> None:
    """Copy a GE Data Docs site: its pages, made to open offline, and the static files they use.

    GE copies its whole static folder (4 MB: fonts, tutorial GIFs) into every site; the
    pages use the favicon of it (their styles are inline, their scripts from CDNs, which
    `offline_page` removes).
    """
    site_dir = site_dir.resolve()
    pages = [
        p for p in sorted(site_dir.rglob("*.html")) if p.relative_to(site_dir).parts[0] != "static"
    ]
    if not (site_dir / "index.html").is_file():
        raise FileNotFoundError(f"no Data Docs index in {site_dir}")
    wanted = set(pages)
    for page in pages:
        for link in _LOCAL_LINK.findall(page.read_text(encoding="utf-8")):
            target = (page.parent / link).resolve()
            if target.is_file() and target.is_relative_to(site_dir):
                wanted.add(target)
    validations = [
        (" / ".join(p.relative_to(site_dir / "validations").parts[:1] + (p.parent.name,)), p)
        for p in pages
        if p.relative_to(site_dir).parts[0] == "validations"
    ]
    for path in sorted(wanted):
        copy = dest / path.relative_to(site_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".html":
            links = None
            if path == site_dir / "index.html":
                links = [(label, p.relative_to(site_dir).as_posix()) for label, p in validations]
            copy.write_text(offline_page(path.read_text(encoding="utf-8"), links), "utf-8")
        else:
            shutil.copyfile(path, copy)


def _released_checks(checks: list[dict], gx_docs: Path | None) -> list[dict]:
    """`checks` with each Data Docs page as its path in the release (under docs/gx/)."""
    released = []
    for check in checks:
        check = dict(check)
        page = check.pop("data_docs", None)
        if page:
            if gx_docs is None or not Path(page).resolve().is_relative_to(gx_docs.resolve()):
                raise ValueError(
                    f"{check.get('check')}: its Data Docs page {page} is not in the shipped site"
                )
            relative = Path(page).resolve().relative_to(gx_docs.resolve())
            check["data_docs"] = f"{GX_DOCS_DIR}/{relative.as_posix()}"
        released.append(check)
    return released


def build_release(
    home: Home,
    marts: list[str],
    checks: list[dict],
    release_id: str | None = None,
    *,
    drift: dict | None = None,
    benchmark_report: bool = True,
    dbt_docs: Path | None = None,
    gx_docs: Path | None = None,
) -> Release:
    """Copy the marts of the build warehouse into a new release and make it current.

    `checks` are the gate results recorded in the manifest and the quality report;
    `drift` (optional) is the benchmark drift against the previous release
    (`expectations.drift.drift_summary`), a warning that never blocks.
    `benchmark_report=False` leaves out report.html (it needs the dimension marts, which a
    hand-made test warehouse may not have); every release of the cycle has it.
    `dbt_docs` is a static dbt docs page (`dbt docs generate --static`), shipped as
    docs/dbt/index.html. `gx_docs` is the Great Expectations Data Docs site of the gate
    run that decided this release, shipped as docs/gx/ (index.html); a check's
    `data_docs` page must be in it, and the manifest records it as its path in the release.
    """
    from orchestration.benchmark_report import write_benchmark_report
    from orchestration.quality_report import render_quality_report

    release_id = release_id or new_release_id()
    checks = _released_checks(checks, gx_docs)
    with publish_lock(home):
        clean_leftovers(home)
        final = home.releases / release_id
        if final.exists():
            raise FileExistsError(f"release {release_id} already exists; releases are immutable")
        previous = current_release(home)
        staging = home.releases / f"{INCOMING_PREFIX}{release_id}"
        (staging / "parquet").mkdir(parents=True)
        (staging / "csv").mkdir()
        _pause_point("after-mkdir")

        row_counts, submissions = _copy_marts(home, staging, marts)
        _pause_point("after-copy")

        docs = {}
        if dbt_docs is not None:
            (staging / DBT_DOCS_INDEX).parent.mkdir(parents=True)
            shutil.copyfile(dbt_docs, staging / DBT_DOCS_INDEX)
            docs["dbt"] = DBT_DOCS_INDEX
        if gx_docs is not None:
            copy_data_docs(gx_docs, staging / GX_DOCS_DIR)
            docs["great_expectations"] = GX_DOCS_INDEX

        manifest = {
            "release_id": release_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": code_version(),
            "dictionary_version": dictionary_version(),
            "previous_release": previous.release_id if previous else None,
            "marts": row_counts,
            "submissions": submissions,
            "checks": checks,
            "drift": drift,
            "docs": docs,
        }
        (staging / QUALITY_REPORT).write_text(render_quality_report(manifest), encoding="utf-8")
        # The benchmarking report is part of the release (hashed in the manifest's files).
        if benchmark_report:
            write_benchmark_report(staging, manifest=manifest)
        manifest["files"] = {
            str(path.relative_to(staging)): _sha256(path)
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        # The manifest is written last: a folder with a manifest has everything else.
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _pause_point("after-manifest")
        _fsync_tree(staging)
        _pause_point("after-fsync")
        os.rename(staging, final)
        _fsync_path(home.releases)
        _pause_point("after-rename")
        switch_current(home, release_id)
        _pause_point("after-switch")
    return Release(release_id, final, manifest)


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def list_releases(home: Home) -> list[Release]:
    """Complete releases, oldest first (half-built `.incoming-*` folders are never listed)."""
    releases = []
    if not home.releases.exists():
        return releases
    for path in sorted(home.releases.iterdir()):
        if path.name.startswith(".") or path.is_symlink() or not path.is_dir():
            continue
        manifest = _read_manifest(path)
        if manifest is not None:
            releases.append(Release(path.name, path, manifest))
    return releases


def current_release(home: Home) -> Release | None:
    link = home.current_release
    if not link.exists():
        return None
    path = link.resolve()
    manifest = _read_manifest(path)
    return Release(path.name, path, manifest) if manifest is not None else None


def resolve_release(home: Home, ref: str) -> Release:
    """A release by id, or `current`, or `previous` (the release published before current)."""
    releases = list_releases(home)
    if ref in ("current", "previous"):
        current = current_release(home)
        if current is None:
            raise LookupError(f"no current release in {home.releases}")
        if ref == "current":
            return current
        ids = [r.release_id for r in releases]
        previous = current.manifest.get("previous_release")
        if previous is None and current.release_id in ids:
            index = ids.index(current.release_id)
            previous = ids[index - 1] if index > 0 else None
        ref = previous or ""
        if not ref:
            raise LookupError(f"release {current.release_id} has no previous release")
    for release in releases:
        if release.release_id == ref:
            return release
    known = ", ".join(r.release_id for r in releases) or "none"
    raise LookupError(f"no release {ref!r} in {home.releases} (known: {known})")


def verify_release(release: Release) -> list[str]:
    """What is wrong with a release folder (empty when it is complete and intact)."""
    import duckdb

    problems = []
    for name, digest in release.manifest.get("files", {}).items():
        path = release.path / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest")
    if not release.database.exists():
        return [*problems, f"{RELEASE_DB}: missing"]
    with duckdb.connect(str(release.database), read_only=True) as con:
        for mart, rows in release.manifest.get("marts", {}).items():
            try:
                seen = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            except duckdb.Error as exc:
                problems.append(f"marts.{mart}: {exc}")
                continue
            if seen != rows:
                problems.append(f"marts.{mart}: {seen} rows, manifest says {rows}")
    return problems
