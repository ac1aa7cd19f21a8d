"""The Dagster code location: graph shape, real asset materializations, schedules and sensors."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb
import pytest

from demo.sample_returns import generate_sample
from ingestion.registry import file_sha256
from orchestration.definitions import defs
from orchestration.defs.collection import collection_status, collection_templates
from orchestration.defs.ingestion import ingest_returns
from orchestration.defs.partitions import PARTICIPANTS, add_inbox_participants
from orchestration.defs.resources import HomeResource
from orchestration.defs.schedules import open_collection_schedule, publication_schedule
from orchestration.defs.sensors import inbox_sensor, run_key_for
from runtime.home import Home


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


def test_asset_graph_has_one_group_per_layer():
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert {"ingestion", "reference", "staging", "intermediate", "marts", "publish"} <= set(groups)
    assert "raw/submissions" in groups["ingestion"]
    assert {"marts/fct_indicator_values", "marts/mart_benchmark"} <= groups["marts"]
    assert groups["publish"] == {"publish/release"}
    # Checks carry no kinds in Dagster: GE shows as the kind of the Data Docs asset.
    docs = graph.get(dg.AssetKey(["quality", "gx_data_docs"]))
    assert docs.group_name == "quality" and docs.kinds == {"great_expectations", "html"}
    assert docs.key in graph.get(dg.AssetKey(["publish", "release"])).parent_keys
    assert {dg.AssetKey(["marts", "mart_benchmark"])} <= docs.parent_keys
    check_names = {key.name for key in graph.asset_check_keys}
    assert {"gx_fct_indicator_values", "gx_mart_benchmark", "new_files_accepted"} <= check_names
    assert any(name.startswith("not_null") for name in check_names), "dbt tests load as checks"
    # the singular test on the rules seed is a check on the seed (not a stray observation)
    well_formed = dg.AssetCheckKey(
        dg.AssetKey(["reference", "validation_rules"]), "validation_rules_well_formed"
    )
    assert well_formed in graph.asset_check_keys


def test_the_gate_is_one_step_but_for_the_marts_another_asset_reads():
    from orchestration.defs.dbt import mhbench_dbt_assets
    from orchestration.defs.quality import (
        OWN_STEP_MARTS,
        PUBLISHED_MARTS,
        TEAM_MARTS,
        publication_gate,
    )

    graph = defs.resolve_asset_graph()

    def gx(mart):
        return dg.AssetCheckKey(dg.AssetKey(["marts", mart]), f"gx_{mart}")

    specs = {spec.key: spec for spec in publication_gate.check_specs}
    in_step = [m for m in PUBLISHED_MARTS if m not in OWN_STEP_MARTS]
    assert set(specs) == {gx(m) for m in [*in_step, *TEAM_MARTS]}
    assert all(specs[gx(m)].blocking for m in in_step)
    assert not any(specs[gx(m)].blocking for m in TEAM_MARTS)
    # A mart read by an asset besides dbt's models, the release and its Data Docs keeps its
    # suite in a step of its own, so a failed suite of another mart does not hold it back.
    release_side = {dg.AssetKey(["publish", "release"]), dg.AssetKey(["quality", "gx_data_docs"])}
    read_elsewhere = {
        m
        for m in PUBLISHED_MARTS
        if graph.get(dg.AssetKey(["marts", m])).child_keys
        - set(mhbench_dbt_assets.keys)
        - release_side
    }
    assert read_elsewhere == set(OWN_STEP_MARTS)
    assert all(gx(m) in graph.asset_check_keys and gx(m) not in specs for m in OWN_STEP_MARTS)


def _materialize_partition(home: Home, instance: dg.DagsterInstance, key: str):
    return dg.materialize(
        [ingest_returns],
        resources={"home": HomeResource(root=str(home.root))},
        instance=instance,
        partition_key=key,
    )


def _statuses(home: Home) -> dict[str, str]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return dict(con.execute("select original_filename, status from raw.submissions").fetchall())


def test_ingest_asset_registers_the_files_of_its_partition_and_flags_rejections(home):
    summary = generate_sample(home, participants=["NL", "JE"], years=range(2022, 2024))
    [structural] = [b for b in summary.bad if b.kind == "structural"]
    bad_key = f"{structural.year}|{structural.participant_code}"
    good = next(p for p in summary.files if p != structural.path)
    good_key = f"{good.parent.name}|{good.stem.split('_')[0]}"
    with dg.instance_for_test() as instance:
        assert add_inbox_participants(instance, home) == ["JE", "NL"]

        result = _materialize_partition(home, instance, bad_key)
        assert result.success
        check = result.get_asset_check_evaluations()[0]
        assert check.check_name == "new_files_accepted" and not check.passed
        assert check.metadata["rejected"].value == 1
        assert str(home.reports) in check.metadata["reports"].value
        # only the partition's file was read and registered; the rest waits in the inbox
        assert _statuses(home) == {structural.path.name: "rejected"}
        [mat] = [
            m
            for m in result.asset_materializations_for_node("ingest_returns")
            if m.asset_key == dg.AssetKey(["raw", "submissions"])
        ]
        assert mat.partition == bad_key
        assert mat.metadata["files_rejected"].value == 1

        result = _materialize_partition(home, instance, good_key)
        assert result.get_asset_check_evaluations()[0].passed
        assert _statuses(home) == {structural.path.name: "rejected", good.name: "accepted"}

        # the same partition again finds nothing new: idempotent
        again = _materialize_partition(home, instance, good_key)
        mats = again.asset_materializations_for_node("ingest_returns")
        assert {m.metadata["new_files"].value for m in mats if "new_files" in m.metadata} == {0}
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            assert con.execute("select count(*) from raw.submissions").fetchone()[0] == 2
        assert len(summary.files) == 4


def test_one_run_over_every_partition_ingests_the_whole_inbox(home):
    from orchestration.defs.partitions import every_partition_tags

    summary = generate_sample(home, participants=["SE", "NO"], years=range(2023, 2025))
    with dg.instance_for_test() as instance:
        add_inbox_participants(instance, home)
        tags = every_partition_tags(instance)
        assert tags == {
            "dagster/asset_partition_range_start": "2019|NO",
            "dagster/asset_partition_range_end": "2025|SE",
        }
        result = dg.materialize(
            [ingest_returns],
            instance=instance,
            tags=tags,
            resources={"home": HomeResource(root=str(home.root))},
        )
        assert result.success
        partitions = {
            m.partition
            for m in result.asset_materializations_for_node("ingest_returns")
            if m.asset_key == dg.AssetKey(["raw", "submissions"])
        }
        assert len(partitions) == 7 * 2 and {"2023|SE", "2024|NO"} <= partitions
    assert set(_statuses(home)) == {p.name for p in summary.files}


def test_inbox_sensor_requests_one_run_for_every_new_file(home):
    generate_sample(home, participants=["SE"], years=range(2023, 2024), include_bad=False)
    unreadable = home.inbox / "2024" / "scan.xlsx"
    unreadable.parent.mkdir(parents=True, exist_ok=True)
    unreadable.write_bytes(b"%PDF-1.4 not a workbook")
    resources = {"home": HomeResource(root=str(home.root))}
    [path] = list((home.inbox / "2023").glob("*.*"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(resources=resources, instance=instance)
        result = inbox_sensor(ctx)
        # two files, one run: its partitions are the range around theirs
        [request] = result.run_requests
        assert request.run_key == run_key_for([file_sha256(unreadable), file_sha256(path)])
        assert request.run_key == run_key_for([file_sha256(path), file_sha256(unreadable)])
        assert request.partition_key is None
        assert request.tags["dagster/asset_partition_range_start"] == "2023|SE"
        assert request.tags["dagster/asset_partition_range_end"] == "2024|unidentified"
        assert request.tags["inbox_file_count"] == "2"
        # the first return of a participant adds its partition
        [added] = result.dynamic_partitions_requests
        assert added.partitions_def_name == PARTICIPANTS.name
        assert sorted(added.partition_keys) == ["SE", "unidentified"]
        instance.add_dynamic_partitions(PARTICIPANTS.name, list(added.partition_keys))

        # once registered, the same files start nothing and add nothing
        for key in ("2023|SE", "2024|unidentified"):
            assert _materialize_partition(home, instance, key).success
        assert _statuses(home) == {path.name: "accepted", "scan.xlsx": "rejected"}
        again = inbox_sensor(
            dg.build_sensor_context(cursor=result.cursor, resources=resources, instance=instance)
        )
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        # a changed file (new bytes) is a new run for its partition alone
        path.write_bytes(path.read_bytes() + b"\0")
        changed = inbox_sensor(
            dg.build_sensor_context(cursor=result.cursor, resources=resources, instance=instance)
        )
        [request] = changed.run_requests
        assert request.run_key == run_key_for([file_sha256(path)])
        assert request.tags["dagster/asset_partition_range_start"] == "2023|SE"
        assert request.tags["dagster/asset_partition_range_end"] == "2023|SE"


def test_inbox_sensor_waits_while_an_ingesting_run_is_queued_or_running(home):
    """Files that arrive meanwhile are picked up together when the run ends, not one run each."""
    [path] = generate_sample(
        home, participants=["SE"], years=range(2023, 2024), include_bad=False
    ).files
    resources = {"home": HomeResource(root=str(home.root))}
    with dg.instance_for_test() as instance:
        from dagster._core.test_utils import create_run_for_test

        running = create_run_for_test(
            instance, job_name="refresh_returns", status=dg.DagsterRunStatus.STARTED
        )
        waiting = inbox_sensor(dg.build_sensor_context(resources=resources, instance=instance))
        assert isinstance(waiting, dg.SkipReason)
        assert running.run_id[:8] in waiting.skip_message and "together" in waiting.skip_message

        instance.report_run_canceled(running)
        free = inbox_sensor(dg.build_sensor_context(resources=resources, instance=instance))
        assert [r.run_key for r in free.run_requests] == [run_key_for([file_sha256(path)])]


def test_inbox_sensor_leaves_the_warehouse_alone_while_a_run_holds_or_awaits_it(home):
    """Even a read-only connection's lock makes a writer's connect fail: the sensor does not
    open build.duckdb while the duckdb_writer pool is in use, and asks again later."""
    import duckdb

    from orchestration.defs.resources import DUCKDB_WRITER_POOL

    [path] = generate_sample(
        home, participants=["SE"], years=range(2023, 2024), include_bad=False
    ).files
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema raw; create table raw.submissions (file_sha256 varchar)")
    resources = {"home": HomeResource(root=str(home.root))}
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(DUCKDB_WRITER_POOL, 1)
        assert storage.claim_concurrency_slot(DUCKDB_WRITER_POOL, "run-a", "ingest").is_claimed
        # a run's step holds the pool (between its claim and its connect): no look at the file
        busy = inbox_sensor(dg.build_sensor_context(resources=resources, instance=instance))
        assert isinstance(busy, dg.SkipReason) and "busy" in busy.skip_message

        storage.free_concurrency_slots_for_run("run-a")
        free = inbox_sensor(dg.build_sensor_context(resources=resources, instance=instance))
        assert [r.run_key for r in free.run_requests] == [run_key_for([file_sha256(path)])]


def test_schedules_follow_the_collection_calendar():
    opens = open_collection_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 1, 6))
    )
    assert opens.run_config == {"ops": {"collection__templates": {"config": {"year": 2024}}}}
    skip = open_collection_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 2, 6))
    )
    assert isinstance(skip, dg.SkipReason)


def test_publication_schedule_targets_every_partition_in_one_run(home):
    resources = {"home": HomeResource(root=str(home.root))}
    with dg.instance_for_test() as instance:
        empty = publication_schedule(
            dg.build_schedule_context(
                instance=instance,
                resources=resources,
                scheduled_execution_time=datetime(2025, 10, 15, 5),
            )
        )
        assert isinstance(empty, dg.SkipReason) and "no returns" in empty.skip_message
        generate_sample(home, participants=["SE", "NL"], years=range(2024, 2025))
        publish = publication_schedule(
            dg.build_schedule_context(
                instance=instance,
                resources=resources,
                scheduled_execution_time=datetime(2025, 10, 15, 5),
            )
        )
        assert publish.run_key == "publish-2024"
        assert publish.tags["dagster/asset_partition_range_start"] == "2019|NL"
        assert publish.tags["dagster/asset_partition_range_end"] == "2025|SE"
        assert instance.get_dynamic_partitions(PARTICIPANTS.name) == ["NL", "SE"]


def test_templates_and_collection_status(cycle_home_copy):
    from ingestion.check import check_return
    from workflow import actions

    home = Home(cycle_home_copy)
    resources = {"home": HomeResource(root=str(home.root))}
    config = dg.RunConfig(
        ops={
            "collection__templates": {"config": {"year": 2024}},
            "quality__collection_status": {"config": {"year": 2024}},
        }
    )
    con = actions.connect(home.warehouse)
    try:
        actions.reopen(con, "SE", 2024, "team", "a corrected return is coming")
        query = actions.ask(con, "NO", 2024, "team", "Beds fell by a third: a closure?")
    finally:
        con.close()
    # its own instance: Dagster keeps a reference to the last test instance otherwise
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [collection_templates, collection_status],
            resources=resources,
            run_config=config,
            instance=instance,
        )
    assert result.success
    templates = sorted((home.outbox / "2024").glob("*.xlsx"))
    assert len(templates) == 12 and templates[0].name == "AU_2024_return.xlsx"
    parsed = check_return(templates[0], expected_year=2024)
    assert parsed.about["participant_code"] == "AU" and parsed.values
    report = (home.reports / "collection-status-2024.md").read_text()
    assert "| SE | Sweden | accepted |" in report
    assert "| NO | Norway | published |" in report
    assert "Not signed off yet: SE." in report
    assert "11 of 12 participants approved" in report
    assert f"| {query} | NO |  | open | 0 | team | Beds fell by a third: a closure? |" in report
    metadata = result.asset_materializations_for_node("quality__collection_status")[0].metadata
    assert metadata["not_signed_off"].value == 1 and metadata["open_queries"].value == 1


def test_gate_results_are_the_runs_own_when_runs_overlap():
    """The inbox sensor starts a run per file: a run's gate must be judged on its own checks,
    even when a concurrent run evaluated the same checks after it."""
    from orchestration.defs.publish import GATE_CHECK_KEYS, gate_results

    def gate(passed: bool) -> list[dg.AssetsDefinition]:
        @dg.multi_asset(
            specs=[dg.AssetSpec(key.asset_key) for key in GATE_CHECK_KEYS],
            check_specs=[
                dg.AssetCheckSpec(key.name, asset=key.asset_key) for key in GATE_CHECK_KEYS
            ],
        )
        def marts():
            for key in GATE_CHECK_KEYS:
                yield dg.MaterializeResult(asset_key=key.asset_key)
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key, check_name=key.name, passed=passed
                )

        return [marts]

    with dg.instance_for_test() as instance:
        ours = dg.materialize(gate(passed=True), instance=instance)
        later = dg.materialize(gate(passed=False), instance=instance)
        mine = gate_results(instance, run_id=ours.run_id)
        assert {c["status"] for c in mine if c["blocking"]} == {"SUCCEEDED"}
        assert {c["run_id"] for c in mine if c["blocking"]} == {ours.run_id}
        theirs = gate_results(instance, run_id=later.run_id)
        assert {c["status"] for c in theirs if c["blocking"]} == {"FAILED"}
        # without a run: the latest evaluation, whichever run made it
        assert {c["run_id"] for c in gate_results(instance) if c["blocking"]} == {later.run_id}
        # a run that evaluated nothing has nothing of its own
        other = dg.materialize([_a_plain_asset], instance=instance)
        assert {c["status"] for c in gate_results(instance, run_id=other.run_id)} == {
            "NOT_RUN_IN_THIS_RUN"
        }


@dg.asset
def _a_plain_asset() -> None:
    return None
