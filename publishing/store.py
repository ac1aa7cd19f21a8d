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
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from publishing.exports import RELEASE_DB, ExportSettings, copy_marts, write_exports
from publishing.gx_docs import GX_DOCS_DIR, GX_DOCS_INDEX, copy_data_docs, released_checks
from publishing.manifest import code_version, dictionary_version
from runtime.home import Home
from runtime.pause import pause_point

__all__ = ["RELEASE_DB", "GX_DOCS_INDEX"]

MANIFEST = "manifest.json"
DBT_DOCS_INDEX = "docs/dbt/index.html"
INCOMING_PREFIX = ".incoming-"
CURRENT_TMP_PREFIX = ".current-"
PUBLISH_LOCK = ".publish.lock"

# Writes the human-readable pages of a release (reporting's job) into its folder, given the
# manifest as it stands before the file hashes are added. The store itself renders nothing.
PageWriter = Callable[[Path, dict], None]

PAUSE_ENV = "MHBENCH_PUBLISH_PAUSE_AT"
PUBLISH_STAGES = (
    "after-mkdir",  # empty .incoming-<id>/ exists
    "after-copy",  # DuckDB, Parquet and CSV written in .incoming-<id>/
    "after-exports",  # SDMX and the workbook written (when the publish has exports)
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


def _pause_point(stage: str) -> None:
    """Test hook: stop at `stage` when MHBENCH_PUBLISH_PAUSE_AT names it."""
    pause_point(stage, env=PAUSE_ENV, marker="mhbench-publish-paused")


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
    drafts = sorted(home.drafts.iterdir()) if home.drafts.is_dir() else []
    for path in sorted(home.releases.iterdir()) + drafts:
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


def build_release(
    home: Home,
    marts: list[str],
    checks: list[dict],
    release_id: str | None = None,
    *,
    drift: dict | None = None,
    pages: PageWriter | None = None,
    dbt_docs: Path | None = None,
    gx_docs: Path | None = None,
    kind: str = "final",
    scope: dict | None = None,
    exports: ExportSettings | None = None,
    fingerprint: dict | None = None,
) -> Release:
    """Copy the marts of the build warehouse into a new release and make it current.

    `kind` is `final` (the default: the release becomes `releases/current`) or `draft` (under
    `releases/drafts/<id>/`, for participants to review; never current). `scope` (the
    participant-years `included` and `left_out`, with their states) is recorded in the
    manifest.

    `checks` are the gate results recorded in the manifest and the quality report;
    `drift` (optional) is the benchmark drift against the previous release
    (`expectations.drift.drift_summary`), a warning that never blocks.
    `pages` writes the pages for people (the quality page, the benchmarking report) into the
    release folder before the files are hashed; the release asset passes reporting's writer.
    `dbt_docs` is a static dbt docs page (`dbt docs generate --static`), shipped as
    docs/dbt/index.html. `gx_docs` is the Great Expectations Data Docs site of the gate
    run that decided this release, shipped as docs/gx/ (index.html); a check's
    `data_docs` page must be in it, and the manifest records it as its path in the release.
    `exports` (the release asset passes them) adds SDMX (sdmx/) and the workbook
    (mhbench-<id>.xlsx) to a final release, written from the release's own DuckDB; the
    manifest's `exports` says what was written (`{}` in a draft). `fingerprint`
    (publishing/fingerprint.py) is what the release was built from; a run with the same
    fingerprint publishes nothing.
    """
    if kind not in ("final", "draft"):
        raise ValueError(f"release kind must be final or draft, not {kind!r}")
    release_id = release_id or new_release_id()
    checks = released_checks(checks, gx_docs)
    parent = home.releases if kind == "final" else home.drafts
    with publish_lock(home):
        clean_leftovers(home)
        parent.mkdir(parents=True, exist_ok=True)
        final = parent / release_id
        if final.exists():
            raise FileExistsError(f"release {release_id} already exists; releases are immutable")
        previous = current_release(home)
        staging = parent / f"{INCOMING_PREFIX}{release_id}"
        (staging / "parquet").mkdir(parents=True)
        (staging / "csv").mkdir()
        _pause_point("after-mkdir")

        row_counts, submissions = copy_marts(home, staging, marts)
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
            "kind": kind,
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
        if scope is not None:
            manifest["participant_years"] = scope
        if fingerprint is not None:
            manifest["fingerprint"] = fingerprint
        workbook = None
        try:
            if exports is not None:
                manifest["exports"], workbook = write_exports(
                    home, staging, marts, manifest, exports
                )
            # The pages are part of the release (hashed in the manifest's files); the workbook
            # is written meanwhile, by a process of its own.
            if pages is not None:
                pages(staging, manifest)
            if workbook is not None:
                workbook.wait()
                _pause_point("after-exports")
        finally:
            if workbook is not None:
                workbook.stop()
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
        _fsync_path(parent)
        _pause_point("after-rename")
        if kind == "final":
            switch_current(home, release_id)
            _pause_point("after-switch")
    return Release(release_id, final, manifest)


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def list_releases(home: Home, *, drafts: bool = False) -> list[Release]:
    """Complete final releases, oldest first (half-built `.incoming-*` folders are never
    listed); with `drafts`, the draft releases instead (releases/drafts/)."""
    releases = []
    folder = home.drafts if drafts else home.releases
    if not folder.exists():
        return releases
    for path in sorted(folder.iterdir()):
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


def latest_release(home: Home, kind: str) -> Release | None:
    """The release a new one of `kind` would follow: `current` for a final release, the newest
    draft for a draft."""
    if kind == "final":
        return current_release(home)
    drafts = list_releases(home, drafts=True)
    return drafts[-1] if drafts else None


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
    for release in releases + list_releases(home, drafts=True):
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
