"""The Dagster code location: graph shape, real asset materializations, schedules and sensors."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb
import pytest

from ingestion.home import Home
from ingestion.registry import file_sha256
from ingestion.sample import generate_sample
from orchestration.definitions import defs
from orchestration.defs.collection import collection_status, collection_templates
from orchestration.defs.ingestion import ingest_inbox
from orchestration.defs.resources import HomeResource
from orchestration.defs.schedules import open_collection_schedule, publication_schedule
from orchestration.defs.sensors import inbox_sensor


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


def test_ingest_asset_registers_every_file_and_flags_rejections(home):
    summary = generate_sample(home, participants=["NL", "JE"], years=range(2022, 2024))
    result = dg.materialize([ingest_inbox], resources={"home": HomeResource(root=str(home.root))})
    assert result.success
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "new_files_accepted" and not check.passed
    assert check.metadata["rejected"].value == 1
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        statuses = dict(
            con.execute("select original_filename, status from raw.submissions").fetchall()
        )
    assert len(statuses) == len(summary.files) == 4
    [structural] = [b for b in summary.bad if b.kind == "structural"]
    assert statuses.pop(structural.path.name) == "rejected"
    assert set(statuses.values()) == {"accepted"}
    # a second run finds nothing new: idempotent
    again = dg.materialize([ingest_inbox], resources={"home": HomeResource(root=str(home.root))})
    mat = again.asset_materializations_for_node("ingest_inbox")[0]
    assert mat.metadata["new_files"].value == 0


def test_inbox_sensor_requests_a_run_per_new_file_keyed_by_hash(home):
    generate_sample(home, participants=["SE"], years=range(2023, 2024), include_bad=False)
    resources = {"home": HomeResource(root=str(home.root))}
    ctx = dg.build_sensor_context(resources=resources)
    result = inbox_sensor(ctx)
    [path] = list(home.inbox.rglob("*.*"))
    assert [r.run_key for r in result.run_requests] == [file_sha256(path)]
    # once registered, the same file starts nothing
    dg.materialize([ingest_inbox], resources=resources)
    again = inbox_sensor(dg.build_sensor_context(cursor=result.cursor, resources=resources))
    assert again.run_requests == []


def test_schedules_follow_the_collection_calendar():
    opens = open_collection_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 1, 6))
    )
    assert opens.run_config == {"ops": {"collection__templates": {"config": {"year": 2024}}}}
    skip = open_collection_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 2, 6))
    )
    assert isinstance(skip, dg.SkipReason)
    publish = publication_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2025, 10, 15, 5))
    )
    assert publish.run_key == "publish-2024"


def test_templates_and_collection_status(home):
    from ingestion.check import check_return

    resources = {"home": HomeResource(root=str(home.root))}
    config = dg.RunConfig(
        ops={
            "collection__templates": {"config": {"year": 2024}},
            "quality__collection_status": {"config": {"year": 2024}},
        }
    )
    generate_sample(home, participants=["SE", "NL"], years=range(2024, 2025), include_bad=False)
    dg.materialize([ingest_inbox], resources=resources)
    result = dg.materialize(
        [collection_templates, collection_status], resources=resources, run_config=config
    )
    assert result.success
    templates = sorted((home.outbox / "2024").glob("*.xlsx"))
    assert len(templates) == 12 and templates[0].name == "AU_2024_return.xlsx"
    parsed = check_return(templates[0], expected_year=2024)
    assert parsed.about["participant_code"] == "AU" and parsed.values
    report = (home.reports / "collection-status-2024.md").read_text()
    assert "| SE | Sweden | received |" in report
    assert "| NO | Norway | not submitted |" in report
