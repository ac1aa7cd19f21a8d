"""Shared fixtures. The expensive one, a whole annual cycle on the sample, runs once per
test session, across every xdist worker: the first worker that needs it runs it into a
folder shared by the session, under a file lock, and leaves a JSON marker; the others wait
for the lock and reuse it.

Tests that only read the cycle's outputs use `cycle` directly and must not write into
`cycle.home`; a test that changes anything (publishes, kills a publish, corrupts a mart)
takes `cycle_home_copy`, a private copy of that home, far cheaper than a second cycle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent


def mhbench_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MHBENCH_DAGSTER_PG", None)  # SQLite unless a test asks for PostgreSQL itself
    env.update(
        MHBENCH_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        GX_ANALYTICS_ENABLED="False",
        DO_NOT_TRACK="1",
    )
    return env


def dbt_parse(home: Path, target: Path, kind: str, log_format: str = "json") -> None:
    """`dbt parse` of a build of release `kind` in `home`, as dagster-dbt runs a build: its log
    (JSON lines; `log_format="text"`: dbt's own, as the dbt worker parses) in `target`."""
    from orchestration.dbt_manifest import DBT_PROJECT_DIR, dbt_executable, release_kind_vars

    env = mhbench_env(home)
    env.update(DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(target), DBT_LOG_FORMAT=log_format)
    env["DBT_PROFILES_DIR"] = str(DBT_PROJECT_DIR)
    subprocess.run(
        [dbt_executable(), "parse", "--vars", release_kind_vars(kind)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
    )


def run_mhbench(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess against `home`."""
    completed = subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env=mhbench_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"mhbench {' '.join(args)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout[-6000:]}\nstderr:\n{completed.stderr[-6000:]}"
        )
    return completed


@dataclass(frozen=True)
class Cycle:
    home: Path
    sample: object  # demo.sample_returns.SampleSummary
    run_output: str  # the final run's
    draft_output: str = ""  # the draft run's, before sign-off and approval


# How long a worker waits for another worker's cycle (the run itself times out at 900 s).
CYCLE_LOCK_TIMEOUT = 1800


def _run_cycle(home: Path) -> Cycle:
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    summary = generate_sample(Home(home).ensure(), seed=2024)
    # The collection as `make demo` runs it: a draft for review, every lead's sign-off, the
    # approval of what has no open error, then the final release.
    draft = run_mhbench(home, "run", "--draft")
    run_mhbench(home, "signoff", "--all", "--by", "demo", "--note", "sample returns")
    run_mhbench(home, "approve", "--all", "--by", "demo")
    completed = run_mhbench(home, "run")
    return Cycle(home=home, sample=summary, run_output=completed.stdout, draft_output=draft.stdout)


def _cycle_to_json(cycle: Cycle) -> dict:
    sample = cycle.sample
    return {
        "home": str(cycle.home),
        "run_output": cycle.run_output,
        "draft_output": cycle.draft_output,
        "sample": {
            "files": [str(path) for path in sample.files],
            "bad": [{**asdict(bad), "path": str(bad.path)} for bad in sample.bad],
            "csv_participants": list(sample.csv_participants),
        },
    }


def _cycle_from_json(data: dict) -> Cycle:
    from demo.sample_returns import BadReturn, SampleSummary

    sample = data["sample"]
    summary = SampleSummary(
        files=[Path(path) for path in sample["files"]],
        bad=[BadReturn(**{**bad, "path": Path(bad["path"])}) for bad in sample["bad"]],
        csv_participants=tuple(sample["csv_participants"]),
    )
    return Cycle(
        home=Path(data["home"]),
        sample=summary,
        run_output=data["run_output"],
        draft_output=data.get("draft_output", ""),
    )


@pytest.fixture(scope="session")
def cycle(tmp_path_factory) -> Cycle:
    """Sample returns + the collection of `make demo` (a draft run, sign-off and approval
    with `--by demo`, a final run), once per session: real Dagster runs, real dbt, real GE,
    a draft and a final release. Read-only for the tests: use `cycle_home_copy` to change anything."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:  # no xdist: pytest's session scope already makes it once
        return _run_cycle(tmp_path_factory.mktemp("cycle") / "home")

    # The folder above each worker's basetemp belongs to this session and is shared by all
    # its workers (pytest-xdist's documented pattern for a once-per-session fixture).
    shared = tmp_path_factory.getbasetemp().parent / "cycle"
    marker = shared / "cycle.json"
    with FileLock(str(shared) + ".lock", timeout=CYCLE_LOCK_TIMEOUT):
        if not marker.exists():
            shared.mkdir(exist_ok=True)
            started = time.monotonic()
            ran = {"ran_on": worker}
            try:
                data = {**_cycle_to_json(_run_cycle(shared / "home")), **ran}
            except Exception as exc:
                # Recorded, so that the other workers fail with it instead of running it again.
                marker.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}", **ran}))
                raise
            data["seconds"] = round(time.monotonic() - started, 1)
            marker.write_text(json.dumps(data, indent=2))
    data = json.loads(marker.read_text())
    if "error" in data:
        pytest.fail(f"the session's annual cycle failed on {data['ran_on']}:\n{data['error']}")
    return _cycle_from_json(data)


@pytest.fixture
def cycle_home_copy(cycle, tmp_path) -> Path:
    """A private copy of the cycle's home (inbox, archive, warehouse, releases, Dagster home),
    for a test that changes it. `releases/current` is a relative symlink: it stays one."""
    assert (cycle.home / "releases" / "current" / "manifest.json").exists(), cycle.run_output
    copy = tmp_path / "home"
    copy_home(cycle.home, copy)
    return copy


def _copy_file(source: str, target: str) -> None:
    """shutil.copy2, except for a SQLite -wal/-shm file that vanished meanwhile: another test
    reading the Dagster instance closed it, which folds it into its database (the cycle wrote
    nothing since), so there is nothing of it to copy."""
    try:
        shutil.copy2(source, target)
    except FileNotFoundError:
        if not source.endswith(("-wal", "-shm")):
            raise


def copy_home(source: Path, target: Path) -> None:
    """Copy a home that other tests may be reading (the session's cycle) to `target`, its
    dagster.yaml pointing at the copy's own event log (as the CLI would on its first start)."""
    from orchestration.instance import update_dagster_yaml

    shutil.copytree(source, target, symlinks=True, copy_function=_copy_file)
    config = target / "dagster" / "dagster.yaml"
    if config.exists():
        update_dagster_yaml(config, environ={})


DBT_PROJECT = REPO / "dbt_project"


def run_dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real dbt CLI on the project against `home`'s warehouse, with its own target dir
    (so parallel tests never share dbt's partial-parse state)."""
    import duckdb

    from workflow.events import ensure_workflow_schema

    # as the ingestion asset does before every build: dbt reads the workflow's event log
    warehouse = home / "warehouse" / "build.duckdb"
    if warehouse.exists():
        with duckdb.connect(str(warehouse)) as con:
            ensure_workflow_schema(con)
    if args and args[0] in ("build", "run") and "--vars" not in args:
        # a draft's scope (every accepted participant-year): these builds test the
        # transformations, and nothing is approved in a hand-made warehouse
        args = (*args, "--vars", '{"release_kind": "draft"}')
    env = mhbench_env(home)
    env.update(DBT_TARGET_PATH=str(home / "dbt-target"), DBT_PROFILES_DIR=str(DBT_PROJECT))
    dbt = Path(sys.executable).with_name("dbt")
    completed = subprocess.run(
        [str(dbt), *args], cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600
    )
    if completed.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{completed.stdout[-8000:]}")
    return completed


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Make `--dist loadgroup` group again (pytest-xdist#1386, open): pytest-xdist 3.8 marks a
    test's group by setting `item._nodeid` to `<nodeid>@<group>`, which pytest 9.2's structured
    node ids no longer read, so every test was scheduled alone and each worker set up the
    module fixtures (a dbt build, a webserver) of the groups it touched. Runs after xdist's
    hook; does nothing once xdist sets the id itself."""
    if not config.getoption("loadgroup", default=False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if grouped and grouped != item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(grouped)
    # The longest groups go first, so each starts on a worker of its own while the other
    # worker takes the rest (xdist hands groups out in collection order).
    items.sort(key=lambda item: _group(item) not in SLOW_GROUPS_FIRST)


# The groups that take minutes (signals at every stage of a cycle; the previous version's
# cycle and an upgrade; a real dagster dev; a cycle and a daemon on PostgreSQL; a
# participant-year's whole workflow story).
SLOW_GROUPS_FIRST = ("crash_recovery", "upgrade", "daemon", "pg", "collection_workflow")


def _group(item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    return marker.args[0] if marker.args else marker.kwargs.get("name")


def pytest_terminal_summary(terminalreporter, config) -> None:
    """Say, at the end of an xdist session, where and how long the shared cycle ran."""
    factory = getattr(config, "_tmp_path_factory", None)  # what pytest-xdist itself uses
    if factory is None or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    marker = factory.getbasetemp() / "cycle" / "cycle.json"
    if marker.is_file():
        data = json.loads(marker.read_text())
        seconds = data.get("seconds")
        took = f" in {seconds:.0f} s" if seconds is not None else " (failed)"
        terminalreporter.write_line(f"annual cycle: run once, on {data['ran_on']}{took}")


@pytest.fixture(autouse=True)
def _fresh_dagster_defs_state_storage():
    """Each test starts with no Dagster defs-state storage in context.

    Every DagsterInstance puts its defs-state storage in a ContextVar and takes it out when
    disposed; one disposed out of order (or in another context) leaves a storage whose
    instance is gone, and the next `materialize` in the same worker fails with "Attempted to
    resolve undefined DagsterInstance weakref". Which test leaves it depends on the order
    xdist gives a worker, so reset it here rather than chase the order.
    """
    from dagster._core.storage.defs_state.base import _current_storage

    token = _current_storage.set(None)
    yield
    _current_storage.reset(token)
