"""Keep the dbt manifest in step with the dbt project, without importing dbt.

Dagster reads dbt_project/target/manifest.json when the code location loads. It is
regenerated (`dbt parse`, a subprocess) only when a file of the dbt project is newer,
so a fresh clone works and an unchanged project loads fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Every file dbt parses (the code location relies on this instead of DbtProject.prepare_if_dev).
_WATCHED = (
    "models",
    "seeds",
    "macros",
    "tests",
    "snapshots",
    "analyses",
    "dbt_project.yml",
    "profiles.yml",
    "packages.yml",
    "dependencies.yml",
    "selectors.yml",
)


def dbt_env() -> dict[str, str]:
    """Environment for dbt subprocesses: no telemetry, no version check over the network."""
    env = dict(os.environ)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DBT_VERSION_CHECK", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in _WATCHED:
        path = DBT_PROJECT_DIR / name
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                newest = max(newest, file.stat().st_mtime)
    return newest


def manifest_is_stale() -> bool:
    return not MANIFEST_PATH.exists() or MANIFEST_PATH.stat().st_mtime < _newest_source_mtime()


def ensure_manifest() -> Path:
    """Parse the dbt project if its manifest is missing or older than the project files."""
    if manifest_is_stale():
        completed = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR)],
            cwd=DBT_PROJECT_DIR,
            env=dbt_env(),
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                "dbt parse failed:\n" + (completed.stdout + completed.stderr).strip()[-4000:]
            )
        MANIFEST_PATH.touch()
    return MANIFEST_PATH


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def parse_state(state_dir: Path, release_kind: str) -> Path:
    """Where the dbt parse of a home's builds of one release kind is kept between runs.

    dbt re-parses the whole project (~5 s here, against ~2.5 s with this state) when the
    `--vars` or the profile differ from those of its saved parse: the profile holds the
    warehouse path (so it is per home) and the vars the release kind, which is why the state
    `dbt parse` leaves in dbt_project/target never fits a build."""
    return state_dir / f"{release_kind}.{PARTIAL_PARSE_FILE}"


def reuse_parse_state(state: Path, target: Path) -> None:
    """Put the kept parse in dbt's target folder, before dbt starts."""
    target.mkdir(parents=True, exist_ok=True)
    if state.is_file():
        shutil.copyfile(state, target / PARTIAL_PARSE_FILE)


def keep_parse_state(target: Path, state: Path) -> None:
    """Keep the parse dbt wrote into its target folder for the next run (atomically)."""
    written = target / PARTIAL_PARSE_FILE
    if not written.is_file():
        return
    state.parent.mkdir(parents=True, exist_ok=True)
    partial = state.with_name(f".{state.name}.{os.getpid()}.tmp")
    shutil.copyfile(written, partial)
    partial.replace(state)


PARSE_REUSED = "dbt started from the parse of this home's last build of this release kind"


_TEXT_REASON = re.compile(r"Unable to do partial parsing because (.+)")


def parse_report(target: Path) -> str:
    """What dbt's log in `target` (JSON lines, as dagster-dbt runs it) says of its parse:
    reused, or whole and why."""
    log = target / "dbt.log"
    reasons = []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    for line in lines:
        if "UnableToPartialParse" in line:  # JSON lines (dagster-dbt's DBT_LOG_FORMAT)
            try:
                reason = json.loads(line)["data"]["reason"]
            except (ValueError, KeyError, TypeError):
                continue
        elif found := _TEXT_REASON.search(line):  # dbt's text log (the worker's parse)
            reason = found.group(1)
        else:
            continue
        reason = reason.removesuffix(" Starting full parse.").rstrip(".")
        if reason not in reasons:
            reasons.append(reason)
    if reasons:
        return "dbt parsed the whole project: " + "; ".join(reasons)
    return PARSE_REUSED


def release_kind_vars(release_kind: str) -> str:
    """The `--vars` of a build of that release kind (int_release_scope reads it)."""
    return json.dumps({"release_kind": release_kind})


def generate_docs(
    target: Path,
    state: Path | None = None,
    release_kind: str = "final",
    built: bool = False,
    executable: str | None = None,
) -> Path:
    """`dbt docs generate --static` into `target`; returns the self-contained index page.

    With `state` (parse_state of the build's release kind), dbt starts from the parse the
    build left, so only the compilation and the catalog are new work. `built`: `target` is the
    target folder of a `dbt build` of the whole project (its manifest.json holds the compiled
    SQL), so dbt compiles nothing again (`--no-compile`: 2.2 s against 3.5 s on the sample).
    `executable`: the `dbt` to run (by default this environment's). It reads the warehouse:
    call it inside the warehouse pool.
    """
    target.mkdir(parents=True, exist_ok=True)
    if state is not None:
        reuse_parse_state(state, target)
    env = dbt_env()
    env["DBT_TARGET_PATH"] = str(target)
    completed = subprocess.run(
        [
            executable or dbt_executable(),
            "docs",
            "generate",
            "--static",
            *(["--no-compile"] if built else []),
            "--vars",
            release_kind_vars(release_kind),
            "--project-dir",
            str(DBT_PROJECT_DIR),
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    page = target / "static_index.html"
    if completed.returncode != 0 or not page.exists():
        raise RuntimeError(
            "dbt docs generate failed:\n" + (completed.stdout + completed.stderr).strip()[-4000:]
        )
    return page


def project_digest() -> str:
    """sha256 (16 hex) of every file dbt parses: what the dbt docs of a build depend on."""
    import hashlib

    digest = hashlib.sha256()
    for name in _WATCHED:
        path = DBT_PROJECT_DIR / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(DBT_PROJECT_DIR)).encode() + b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def docs_page(
    cache: Path,
    state: Path | None = None,
    release_kind: str = "final",
    build: Path | None = None,
    executable: str | None = None,
) -> Path:
    """The static dbt docs page of this version of the dbt project, generated once per version
    and kept in `cache` as <project digest>.html; older pages are removed.

    The dbt step makes it from its full build's target folder `build` (`generate_docs(built=
    True)`), starting from the parse `state` of the build; the release finds it there, or (a
    home whose last full build was before this version) generates it from that `state`.

    The page holds the project and the catalog (tables, columns, types: no row counts), which
    do not change while the project does not. Call it inside the warehouse pool."""
    import tempfile

    page = docs_page_path(cache)
    if page.exists():
        return page
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mhbench-dbt-docs-") as scratch:
        if build is not None:
            made = generate_docs(
                build, state, release_kind=release_kind, built=True, executable=executable
            )
        else:
            made = generate_docs(Path(scratch), state, release_kind)
        partial = cache / f".{page.name}.tmp"
        shutil.copyfile(made, partial)
        partial.replace(page)
    for old in cache.glob("*.html"):
        if old != page:
            old.unlink(missing_ok=True)
    return page


def docs_page_path(cache: Path) -> Path:
    """Where the dbt docs page of this version of the dbt project is kept in `cache`."""
    return cache / f"{project_digest()}.html"


def _marts(published: bool) -> tuple[str, ...]:
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    marts = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["fqn"][1:2] == ["marts"]
        and (node.get("config", {}).get("meta") or node.get("meta") or {}).get("published", True)
        is published
    ]
    return tuple(sorted(marts))


def published_marts() -> tuple[str, ...]:
    """The models of `models/marts/` that a release publishes, read from the dbt manifest.

    A mart is published unless its yml says `config: {meta: {published: false}}` (a mart the
    team works from in the warehouse but that never leaves it).
    """
    return _marts(published=True)


def team_marts() -> tuple[str, ...]:
    """The marts built for the team in the warehouse and never published (meta published:
    false): the collection status and the queries."""
    return _marts(published=False)


def mart_descriptions() -> dict[str, str]:
    """Each mart's description, from its yml (the README sheet of the release workbook)."""
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    return {
        node["name"]: " ".join((node.get("description") or "").split())
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
    }


def project_vars() -> dict:
    """The `vars:` of dbt_project.yml (disclosure thresholds, the SDMX agency and version)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def nodes_without_raw_inputs(manifest: dict | None = None) -> tuple[str, ...]:
    """The seeds and models that no raw table feeds, even indirectly (the dimensions, the
    validation rules), parents before children: a change of returns or workflow events
    leaves them as they are. `manifest`: the loaded manifest, if the caller has it."""
    if manifest is None:
        manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    fed: dict[str, bool] = {}
    order: list[str] = []  # post-order: every node after its parents

    def fed_by_raw(uid: str) -> bool:
        if uid not in fed:
            parents = nodes[uid].get("depends_on", {}).get("nodes", [])
            fed[uid] = False
            fed[uid] = any(
                p.startswith("source.") or (p in nodes and fed_by_raw(p)) for p in sorted(parents)
            )
            order.append(uid)
        return fed[uid]

    for uid in sorted(nodes):
        fed_by_raw(uid)
    # an ephemeral model is never built on its own: nothing to leave as built
    return tuple(
        nodes[uid]["name"]
        for uid in order
        if not fed[uid] and nodes[uid].get("config", {}).get("materialized") != "ephemeral"
    )


@dataclass(frozen=True)
class ReturnsOnlyBuild:
    """What a build leaves as built when only returns and workflow events changed since the
    last one (same code, seeds and vars), read from the manifest.

    - `unfed`: the seeds and models no raw table feeds (nodes_without_raw_inputs): the
      same data as built.
    - `views`: the views the raw tables feed, each with its model parents. A view is its
      SQL, unchanged with the code: it shows the new data once the tables under it are
      rebuilt, so dbt need not create it again. Its tests still run: its data changed.
    - `unfed_tests`: the tests of unfed nodes alone (their data did not change).
    """

    unfed: tuple[str, ...]
    views: dict[str, tuple[str, ...]]
    unfed_tests: tuple[str, ...]

    def exclude(self) -> list[str]:
        """The nodes the build leaves out, for `--exclude` with `--indirect-selection empty`
        (dagster-dbt selects every node, tests included, with `--select fqn:*`)."""
        return [*self.unfed, *self.views, *self.unfed_tests]


def returns_only_build() -> ReturnsOnlyBuild:
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    nodes = manifest["nodes"]
    unfed = nodes_without_raw_inputs(manifest)
    unfed_names = set(unfed)

    def parents(node: dict) -> list[str]:
        return node.get("depends_on", {}).get("nodes", [])

    views = {
        node["name"]: tuple(
            nodes[p]["name"]
            for p in parents(node)
            if p in nodes and nodes[p]["resource_type"] in ("model", "seed", "snapshot")
        )
        for node in nodes.values()
        if node["resource_type"] == "model"
        and node.get("config", {}).get("materialized") == "view"
        and node["name"] not in unfed_names
    }
    unfed_tests = tuple(
        sorted(
            node["name"]
            for node in nodes.values()
            if node["resource_type"] == "test"
            and parents(node)
            and all(p in nodes and nodes[p]["name"] in unfed_names for p in parents(node))
        )
    )
    return ReturnsOnlyBuild(unfed, views, unfed_tests)
