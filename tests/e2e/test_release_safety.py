"""Releases analysts can trust: the gate blocks a bad build, a killed publish leaves
`current` on a complete release, a reader is never disturbed by a publish, and the diff
between two releases lists exactly what changed.

The session's annual cycle (the `cycle` fixture, run once for every xdist worker) gives a
real warehouse, a Dagster instance and a first release; every test here changes them, so
each works on its own copy of that home (`cycle_home_copy`, seconds instead of a second
cycle) and publishes with `build_release` or through Dagster's gate + publish steps,
without rebuilding dbt.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from publishing.diff import Change, diff_releases
from publishing.store import (
    PAUSE_ENV,
    PUBLISH_STAGES,
    build_release,
    current_release,
    list_releases,
    verify_release,
)
from runtime.home import Home

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("release_safety")]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(cycle_home_copy) -> Home:
    """This test's own copy of the cycle's home: the shared one is never changed."""
    return Home(cycle_home_copy)


def published_marts(home: Home) -> list[str]:
    return list(current_release(home).manifest["marts"])


def assert_current_is_complete(home: Home) -> str:
    current = current_release(home)
    assert current is not None
    assert verify_release(current) == []
    with duckdb.connect(str(current.database), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        assert set(current.manifest["marts"]) <= tables
        assert con.execute("select count(*) from marts.fct_indicator_values").fetchone()[0] > 0
    return current.release_id


def assert_every_listed_release_is_complete(home: Home) -> list[str]:
    releases = list_releases(home)
    for release in releases:
        assert not release.release_id.startswith(".")
        assert verify_release(release) == [], release.release_id
    return [r.release_id for r in releases]


# --------------------------------------------------------------------------- the gate


def _gate_job(defs, with_checks: bool, also=()):
    from orchestration.defs.drift import DRIFT_CHECK_KEY
    from orchestration.defs.jobs import ANNUAL_CYCLE
    from orchestration.defs.publish import GATE_CHECK_KEYS, RELEASE

    job = defs.resolve_job_def(ANNUAL_CYCLE)
    checks = set(GATE_CHECK_KEYS) if with_checks else set()
    if with_checks and DRIFT_CHECK_KEY in job.asset_layer.asset_graph.asset_check_keys:
        checks.add(DRIFT_CHECK_KEY)
    return job.get_subset(asset_selection={RELEASE, *also}, asset_check_selection=checks)


def _run(job, instance):
    from orchestration.run_cycle import QUIET_RUN_CONFIG

    return job.execute_in_process(
        run_config=QUIET_RUN_CONFIG, instance=instance, raise_on_error=False
    )


def _released(result) -> bool:
    from orchestration.defs.publish import RELEASE

    return any(e.is_step_materialization and e.asset_key == RELEASE for e in result.all_events)


def test_gate_blocks_a_corrupted_build_and_keeps_current(home, monkeypatch):
    import dagster as dg

    from orchestration.defs.findings import SUBMISSION_FEEDBACK

    monkeypatch.setenv("MHBENCH_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.root / "dagster"))
    from orchestration.definitions import defs

    before_current = assert_current_is_complete(home)
    before = assert_every_listed_release_is_complete(home)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(
            "insert into marts.fct_indicator_values "
            "select * from marts.fct_indicator_values where value is not null limit 1"
        )
        person_count = con.execute(
            "select r.participant_code, r.collection_year, r.item_code "
            "from marts.fct_return_values r join marts.dim_data_item i using (item_code) "
            "where i.is_person_count and r.value >= 10 order by all limit 1"
        ).fetchone()
        con.execute(
            "update marts.fct_return_values set value = 3 "
            "where participant_code = ? and collection_year = ? and item_code = ?",
            list(person_count),
        )

    # The instance of the cycle, where every gate check last SUCCEEDED (before the damage).
    # Entered, so that Dagster resolves the job against this instance, not one a test before
    # left behind.
    with dg.DagsterInstance.from_config(str(home.root / "dagster")) as instance:
        # 1. Gate checks + publish, as in the annual cycle but without rebuilding dbt, and the
        # submitters' feedback, which only the findings mart's suite may hold back.
        result = _run(_gate_job(defs, with_checks=True, also=[SUBMISSION_FEEDBACK]), instance)
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        failed = {name for name, e in evaluations.items() if not e.passed}
        assert {"gx_fct_indicator_values", "gx_fct_return_values"} <= failed
        assert all(evaluations[n].severity == dg.AssetCheckSeverity.ERROR for n in failed)
        fiv = evaluations["gx_fct_indicator_values"].metadata["failed_expectations"].value
        assert "expect_compound_columns_to_be_unique" in fiv
        frv = evaluations["gx_fct_return_values"].metadata["failed_expectations"].value
        assert "published_small_count" in frv and "expect_column_values_to_be_in_set" in frv
        assert not _released(result)
        assert evaluations["gx_mart_validation_findings"].passed
        fed_back = {e.asset_key for e in result.all_events if e.is_step_materialization}
        assert SUBMISSION_FEEDBACK in fed_back
        # The failed validation has its GE Data Docs page, in this run's site.
        page = Path(evaluations["gx_fct_indicator_values"].metadata["data_docs"].value)
        run_site = home.gx_data_docs / result.run_id / "site"
        assert page.is_file() and page.is_relative_to(run_site)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text()))
        assert "Values for given compound columns must be unique together" in text
        assert "Expectation Suite: fct_indicator_values" in text and "Status: Failed" in text

        # 2. The release alone: the earlier SUCCEEDED evaluations do not count.
        result = _run(_gate_job(defs, with_checks=False), instance)
        assert not result.success and not _released(result)
        failure = next(e for e in result.all_events if e.is_step_failure)
        error = failure.step_failure_data.error.to_string()
        assert "GateNotPassed" in error
        assert "gx_fct_indicator_values (NOT_RUN_IN_THIS_RUN)" in error

    assert current_release(home).release_id == before_current
    assert assert_every_listed_release_is_complete(home) == before
    assert not [p for p in home.releases.iterdir() if p.name.startswith(".incoming-")]


def test_gate_publishes_a_good_build_with_drift_warning(home, monkeypatch):
    import dagster as dg

    from orchestration.defs.drift import run_drift_check

    monkeypatch.setenv("MHBENCH_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.root / "dagster"))
    from orchestration.definitions import defs

    previous = current_release(home).release_id
    with duckdb.connect(str(home.warehouse)) as con:
        moved = con.execute(
            "select indicator_code, collection_year, median from marts.mart_benchmark "
            "where median > 0 order by all limit 2"
        ).fetchall()
        # One benchmark doubles (+100%: drift), the other moves 10% (not drift); every
        # statistic of the row moves together so the mart_benchmark suite still passes.
        for (code, year, _), factor in zip(moved, (2.0, 1.1), strict=True):
            con.execute(
                "update marts.mart_benchmark set min = min * $f, p25 = p25 * $f, "
                "median = median * $f, p75 = p75 * $f, max = max * $f, mean = mean * $f "
                "where indicator_code = $code and collection_year = $year",
                {"f": factor, "code": code, "year": year},
            )

    check = run_drift_check(home, threshold_pct=50)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["previous_release"].value == previous
    assert check.metadata["medians_drifting"].value == 1
    listed = check.metadata["drifting_indicators"].value
    assert f"| {moved[0][0]} | {moved[0][1]} |" in listed
    assert f"| {moved[1][0]} | {moved[1][1]} |" not in listed
    assert "expect_column_values_to_be_between" in check.metadata["failed_expectations"].value

    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(_gate_job(defs, with_checks=True), instance)
    assert result.success and _released(result)
    new = current_release(home)
    assert new.release_id != previous and assert_current_is_complete(home) == new.release_id
    manifest = new.manifest
    assert manifest["previous_release"] == previous
    gate = [c for c in manifest["checks"] if c["blocking"]]
    assert gate and all(c["status"] == "SUCCEEDED" for c in gate)
    assert all(c["rows_validated"] > 0 and c["failures"] == [] for c in gate)
    assert [(d["indicator_code"], d["collection_year"]) for d in manifest["drift"]["drifting"]] == [
        (moved[0][0], moved[0][1])
    ]
    html = (new.path / "quality.html").read_text()
    assert moved[0][0] in html and "expect_compound_columns_to_be_unique" in html
    # The GE Data Docs shipped are those of this run's gate (and drift) validations only,
    # not those of the cycle that published the previous release.
    pages = {c["check"]: c["data_docs"] for c in manifest["checks"]}
    assert len(pages) == len(gate) + 1 and all((new.path / p).is_file() for p in pages.values())
    assert f'<a href="{pages["marts/mart_benchmark:gx_mart_benchmark_drift"]}">' in html
    shipped = [f for f in manifest["files"] if f.startswith("docs/gx/validations/")]
    assert sorted(shipped) == sorted(pages.values())
    assert {f.split("/")[4] for f in shipped} == {result.run_id}
    old_runs = {p.name for p in home.gx_data_docs.iterdir()} - {result.run_id}
    assert old_runs, "the cycle's own Data Docs are in the copied home"
    assert not [f for f in manifest["files"] if any(run in f for run in old_runs)]
    # The manifest lists every submission the marts were built from (the release's
    # participant-years), with its file's sha256.
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        used = con.execute(
            "select l.submission_id, l.file_sha256 from intermediate.int_latest_submissions l "
            "join intermediate.int_release_scope using (submission_id)"
        ).fetchall()
    assert {(s["submission_id"], s["file_sha256"]) for s in manifest["submissions"]} == set(used)


# --------------------------------------------------------------------------- kill -9

PUBLISH_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from runtime.home import Home
    from orchestration.dbt_manifest import project_vars
    from publishing.exports import ExportSettings
    from publishing.store import build_release
    build_release(
        Home(Path(sys.argv[1])), sys.argv[2].split(","), [], release_id=sys.argv[3],
        exports=ExportSettings.from_dbt_vars(project_vars()),
    )
    """
)


def _publish_until(home: Home, marts: list[str], release_id: str, stage: str) -> None:
    """Start a publish in a subprocess, wait until it pauses at `stage`, SIGKILL it."""
    env = dict(os.environ, **{PAUSE_ENV: stage, "MHBENCH_HOME": str(home.root)})
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_SCRIPT, str(home.root), ",".join(marts), release_id],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            if line.strip() == f"mhbench-publish-paused {stage}":
                break
            assert time.monotonic() < deadline, f"publish never reached {stage}"
        else:
            raise AssertionError(f"publish exited ({proc.wait()}) before reaching {stage}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_publish_killed_at_any_stage_leaves_a_complete_current(home):
    marts = published_marts(home)
    first = assert_current_is_complete(home)
    published = [first]
    expected_current = first
    leftovers: list[Path] = []
    for n, stage in enumerate(PUBLISH_STAGES):
        release_id = f"29990101T0000000000{n:02d}Z"
        _publish_until(home, marts, release_id, stage)
        # The previous kill's leftovers were removed by this publish.
        assert not [p for p in leftovers if p.exists() or p.is_symlink()], stage
        current = assert_current_is_complete(home)
        listed = assert_every_listed_release_is_complete(home)
        renamed = PUBLISH_STAGES.index(stage) >= PUBLISH_STAGES.index("after-rename")
        if renamed:
            published.append(release_id)  # complete and listed, current only after the switch
        if stage == "after-switch":
            expected_current = release_id
        assert listed == published, stage
        assert current == expected_current, stage
        leftovers = [
            p for p in home.releases.iterdir() if p.name.startswith((".incoming-", ".current-"))
        ]
        if not renamed:
            assert leftovers == [home.releases / f".incoming-{release_id}"], stage
        if stage == "before-switch":
            assert [p.name.startswith(".current-") for p in leftovers] == [True]

    release = build_release(home, marts, [], release_id="29990101T000000000099Z")
    assert current_release(home).release_id == release.release_id
    assert_current_is_complete(home)
    assert assert_every_listed_release_is_complete(home) == [*published, release.release_id]
    assert not [
        p for p in home.releases.iterdir() if p.name.startswith((".incoming-", ".current-"))
    ]


# --------------------------------------------------------------------------- readers

READER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb
    current, stop = sys.argv[1], sys.argv[2]
    seen, errors, iterations = [], [], 0
    while not os.path.exists(stop):
        try:
            folder = os.path.realpath(current)
            with duckdb.connect(os.path.join(folder, "mhbench.duckdb"), read_only=True) as con:
                rows = con.execute("select count(*) from marts.fct_indicator_values").fetchone()[0]
                n = con.execute("select count(*) from marts.mart_benchmark").fetchone()[0]
            with open(os.path.join(folder, "manifest.json")) as fh:
                manifest = json.load(fh)
            assert rows == manifest["marts"]["fct_indicator_values"] and n > 0
            if manifest["release_id"] not in seen:
                seen.append(manifest["release_id"])
                print("seen", manifest["release_id"], flush=True)
        except Exception as exc:
            errors.append(repr(exc))
        iterations += 1
    print("done", json.dumps({"seen": seen, "errors": errors, "iterations": iterations}), flush=True)
    """
)


def test_readers_keep_working_while_releases_are_published(home, tmp_path):
    marts = published_marts(home)
    first = current_release(home)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(home.current_release), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in reader.stdout], daemon=True).start()

    def wait_until_seen(release_id: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if lines.get(timeout=1).split() == ["seen", release_id]:
                    return
            except queue.Empty:
                assert reader.poll() is None, "the reader died"
        raise AssertionError(f"the reader never saw {release_id}")

    # A reader that opened `current` before the publishes and keeps its connection.
    held = duckdb.connect(str(first.database), read_only=True)
    held_rows = held.execute("select count(*) from marts.fct_indicator_values").fetchone()[0]
    try:
        wait_until_seen(first.release_id)
        published = []
        for _ in range(2):
            release = build_release(home, marts, [])
            published.append(release.release_id)
            wait_until_seen(release.release_id)
        assert held.execute("select count(*) from marts.fct_indicator_values").fetchone()[0] == (
            held_rows
        )
    finally:
        held.close()
        stop.touch()
        reader.wait(timeout=60)
    done = None
    while not lines.empty():
        line = lines.get()
        if line.startswith("done "):
            done = json.loads(line[5:])
    assert done is not None, "the reader did not report"
    assert done["errors"] == []
    assert done["seen"] == [first.release_id, *published]
    assert done["iterations"] > 3


# --------------------------------------------------------------------------- diff


def test_diff_between_two_real_releases_lists_exactly_the_changes(home):
    marts = published_marts(home)
    first = current_release(home).release_id
    with duckdb.connect(str(home.warehouse)) as con:
        changed, removed = con.execute(
            "select participant_code, collection_year, indicator_code, value "
            "from marts.fct_indicator_values where value is not null order by all limit 2"
        ).fetchall()
        con.execute(
            "update marts.fct_indicator_values set value = value + 1 "
            "where participant_code = ? and collection_year = ? and indicator_code = ?",
            list(changed[:3]),
        )
        con.execute(
            "delete from marts.fct_indicator_values "
            "where participant_code = ? and collection_year = ? and indicator_code = ?",
            list(removed[:3]),
        )
        con.execute(
            "insert into marts.fct_indicator_values "
            "select * replace (2099 as collection_year) from marts.fct_indicator_values "
            "where participant_code = ? and collection_year = ? and indicator_code = ?",
            list(changed[:3]),
        )
    second = build_release(home, marts, []).release_id

    expected = [
        Change("changed", *changed[:3], changed[3], changed[3] + 1),
        Change("removed", *removed[:3], removed[3], None),
        Change("added", changed[0], 2099, changed[2], None, changed[3] + 1),
    ]

    def grain(c: Change) -> tuple:
        return (c.participant_code, c.collection_year, c.indicator_code)

    assert diff_releases(home, first, second) == sorted(expected, key=grain)
    assert diff_releases(home, second, second) == []
