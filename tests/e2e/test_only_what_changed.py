"""A run does only the work its change needs (issue #15), asserted on the run's own events.

- Nothing new since the current release: no dbt model runs, no release is written, and the
  run says what it would have repeated.
- One resubmission: only its partition is ingested, dbt leaves the seeds and the models they
  alone feed as built, and the marts equal those of a full rebuild from scratch on the same
  inputs; the report draws only the charts that changed, and equals the report drawn anew.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.dbt_manifest import returns_only_build
from publishing.store import current_release, list_releases
from reporting.benchmark_report import render_benchmark_report
from runtime.home import Home
from tests.conftest import run_dbt, run_mhbench

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("only_changed")]

DBT_STEP = "mhbench_dbt_assets"


def _last_run(home: Path) -> tuple[dg.DagsterRun, list[dg.EventLogEntry]]:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        [run] = instance.get_runs(limit=1)
        return run, list(instance.all_logs(run.run_id))


def _materialized(events) -> dict[str, dict]:
    """Asset key -> metadata of every materialization in the run (partition in the metadata)."""
    found = {}
    for entry in events:
        event = entry.dagster_event
        if event is not None and event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key.to_user_string()
            found.setdefault(key, []).append(
                {"partition": materialization.partition, **materialization.metadata}
            )
    return found


def _step_results(events) -> dict[str, str]:
    ends = {
        dg.DagsterEventType.STEP_SUCCESS: "success",
        dg.DagsterEventType.STEP_FAILURE: "failure",
        dg.DagsterEventType.STEP_SKIPPED: "skipped",
    }
    return {
        entry.dagster_event.step_key: ends[entry.dagster_event.event_type]
        for entry in events
        if entry.dagster_event is not None and entry.dagster_event.event_type in ends
    }


def test_nothing_new_runs_no_model_and_publishes_no_release(cycle_home_copy):
    home = cycle_home_copy
    current = current_release(Home(home))
    releases = [r.release_id for r in list_releases(Home(home))]

    completed = run_mhbench(home, "run")

    assert f"Nothing changed since release {current.release_id}" in completed.stdout
    assert [r.release_id for r in list_releases(Home(home))] == releases
    assert current_release(Home(home)).release_id == current.release_id
    run, events = _last_run(home)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["mhbench/unchanged_since"] == f"release {current.release_id}"
    assert "mhbench/child_pid" not in run.tags, "no dbt process was started"
    assert _materialized(events) == {}, "no model built, no release written"
    steps = _step_results(events)
    assert steps[DBT_STEP] == "success"
    assert steps["publish__release"] == "skipped"
    assert "ingest_returns" not in steps, "no new file: ingestion is left out"
    assert all(state == "skipped" for key, state in steps.items() if key != DBT_STEP)


def _resubmit(home: Path, participant: str, year: int, tmp_path: Path) -> Path:
    """Changed values for the participant-year (new bytes), dropped in the inbox."""
    from demo.sample_returns import generate_sample

    scratch = Home(tmp_path / "scratch").ensure()
    [source] = generate_sample(
        scratch, seed=7, years=range(year, year + 1), participants=[participant], include_bad=False
    ).files
    target = Home(home).inbox_year(year) / f"{participant}_{year}_resubmitted{source.suffix}"
    shutil.copyfile(source, target)
    return target


def _marts(con, schema_of: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = ? and table_schema = 'marts' order by 1",
            [schema_of],
        ).fetchall()
    ]


def test_a_resubmission_rebuilds_what_it_touches_and_equals_a_full_rebuild(
    cycle_home_copy, tmp_path
):
    home = cycle_home_copy
    # GB-WLS 2022 has content errors and is not approved: its resubmission is used at once
    _resubmit(home, "GB-WLS", 2022, tmp_path)

    completed = run_mhbench(home, "run", "--draft")

    assert "Published a draft" in completed.stdout, completed.stdout
    run, events = _last_run(home)
    assert run.tags["dagster/asset_partition_range_start"] == "2022|GB-WLS"
    assert run.tags["dagster/asset_partition_range_end"] == "2022|GB-WLS"
    materialized = _materialized(events)
    assert {m["partition"] for m in materialized["raw/submissions"]} == {"2022|GB-WLS"}
    # dbt left the seeds and what they alone feed as built, and the views, and said so on each
    kept = {
        key
        for key, [m] in ((k, v) for k, v in materialized.items() if len(v) == 1)
        if m.get("mhbench/rebuilt") is not None
    }
    names = {key.split("/")[-1] for key in kept}
    left = returns_only_build()
    assert names == set(left.unfed) | set(left.views)
    assert {"reference/participants", "marts/dim_indicator"} <= kept
    assert "marts/fct_indicator_values" in materialized
    assert "marts/fct_indicator_values" not in kept
    assert "publish/release" in materialized
    # the report drew only the charts that changed; drawn from scratch, it is the same page
    [release] = materialized["publish/release"]
    assert release["charts_from_cache"].value > 0, release
    published = Path(release["path"].value)
    generator = re.compile(r'<meta name="generator"[^>]*>')  # how long the drawing took
    assert generator.sub("", render_benchmark_report(published, link_quality=True)) == (
        generator.sub("", (published / "report.html").read_text(encoding="utf-8"))
    )

    # a full rebuild from scratch on the same inputs (raw tables) gives the same marts
    scratch = tmp_path / "scratch-home"
    shutil.copytree(home, scratch, symlinks=True)
    with duckdb.connect(str(scratch / "warehouse" / "build.duckdb")) as con:
        for schema in ("staging", "intermediate", "marts", "reference", "meta"):
            con.execute(f"drop schema if exists {schema} cascade")
    run_dbt(scratch, "build", "--exclude", "test_type:unit")

    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{home / 'warehouse' / 'build.duckdb'}' as changed (read_only)")
        con.execute(f"attach '{scratch / 'warehouse' / 'build.duckdb'}' as rebuilt (read_only)")
        marts = _marts(con, "changed")
        assert marts == _marts(con, "rebuilt")
        assert "fct_indicator_values" in marts and "mart_benchmark" in marts
        for mart in marts:
            counts = [
                con.execute(
                    f"select count(*) from (from {a}.marts.{mart} except all from {b}.marts.{mart})"
                ).fetchone()[0]
                for a, b in (("changed", "rebuilt"), ("rebuilt", "changed"))
            ]
            assert counts == [0, 0], f"marts.{mart} differs from a full rebuild: {counts}"
        # and the resubmission is in them
        assert con.execute(
            "select count(*) from changed.marts.fct_return_values f "
            "join changed.raw.submissions s using (submission_id) "
            "where s.original_filename like 'GB-WLS_2022_resubmitted%'"
        ).fetchone()[0]
