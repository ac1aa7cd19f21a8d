"""The Dagster UI as a data engineer meets it: `dagster-webserver -w workspace.yaml`.

The webserver runs as a subprocess on a private copy of the session's annual cycle home
(its DAGSTER_HOME holds the cycle's run; telemetry off). Its GraphQL API must list
everything the Definitions object declares (assets, gate checks, jobs, schedules, sensors:
read from `orchestration.definitions.defs`, not hard-coded), and in headless Chromium
(Playwright, tests/e2e/playwright_pages.py: no request leaves the machine, no console
error) the UI shows the asset graph, the cycle's run and the partitions of
raw/submissions, with screenshots in the test's tmp folder and in test-output/
(git-ignored).
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import copy_home, mhbench_env
from tests.e2e.dagster_server import REPO, DagsterServer, dagster_server
from tests.e2e.playwright_pages import assert_clean, guarded_browser, guarded_page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("ui")]

TEST_OUTPUT = REPO / "test-output"
START_TIMEOUT = 240
# The platform's contract: these must exist whatever else is added.
MUST_HAVE_ASSETS = {
    "raw/submissions",
    "raw/return_values",
    "marts/fct_indicator_values",
    "marts/mart_benchmark",
    "publish/release",
}
MUST_HAVE_JOBS = {"annual_cycle"}
MUST_HAVE_GROUPS = {"ingestion", "staging", "intermediate", "marts", "publish"}
# The code location as the UI names it (workspace.yaml `location_name`).
LOCATION = "mhbench"

CONTENTS = """
{
  repositoriesOrError { __typename ... on RepositoryConnection { nodes {
    name location { name }
    jobs { name } schedules { name } sensors { name } } } }
  assetNodes {
    assetKey { path } groupName isMaterializable
    partitionDefinition { type dimensionTypes { name type dynamicPartitionsDefinitionName } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
}
"""


@pytest.fixture(scope="module")
def webserver(cycle, tmp_path_factory) -> DagsterServer:
    root = tmp_path_factory.mktemp("ui")
    home = root / "home"
    copy_home(cycle.home, home)
    env = mhbench_env(home)
    env.update(DAGSTER_DISABLE_TELEMETRY="1")
    with dagster_server("dagster-webserver", root, env, START_TIMEOUT) as server:
        # The community sign-up dialog would cover the graph in a screenshot.
        server.graphql("mutation { setNuxSeen }")
        yield server


@pytest.fixture(scope="module")
def expected() -> dict[str, set[str]]:
    """What the UI must show, from the Definitions object itself."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {key.to_user_string() for key in graph.materializable_asset_keys},
        "checks": {
            f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
        },
        "groups": {graph.get(key).group_name for key in graph.materializable_asset_keys},
        "jobs": {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")},
        "schedules": {schedule.name for schedule in repository.schedule_defs},
        "sensors": {sensor.name for sensor in repository.sensor_defs},
    }


def test_definitions_contain_the_platform(expected):
    assert expected["assets"] >= MUST_HAVE_ASSETS
    assert expected["jobs"] >= MUST_HAVE_JOBS
    assert expected["groups"] >= MUST_HAVE_GROUPS
    gates = {c for c in expected["checks"] if c.split(":")[1].startswith("gx_")}
    for mart in ("fct_indicator_values", "mart_benchmark"):
        assert f"marts/{mart}:gx_{mart}" in gates


def test_graphql_lists_everything_defined(webserver, expected):
    data = webserver.graphql(CONTENTS)
    repositories = data["repositoriesOrError"]
    assert repositories["__typename"] == "RepositoryConnection", repositories
    nodes = repositories["nodes"]
    assert webserver.location == LOCATION
    assert {n["location"]["name"] for n in nodes} == {LOCATION}
    jobs = {j["name"] for n in nodes for j in n["jobs"] if not j["name"].startswith("__")}
    schedules = {s["name"] for n in nodes for s in n["schedules"]}
    sensors = {s["name"] for n in nodes for s in n["sensors"]}
    assets = {"/".join(a["assetKey"]["path"]) for a in data["assetNodes"] if a["isMaterializable"]}
    checks = {
        f"{'/'.join(a['assetKey']['path'])}:{c['name']}"
        for a in data["assetNodes"]
        if a["assetChecksOrError"]["__typename"] == "AssetChecks"
        for c in a["assetChecksOrError"]["checks"]
    }
    assert assets == expected["assets"], {
        "missing": expected["assets"] - assets,
        "unexpected": assets - expected["assets"],
    }
    assert checks == expected["checks"], {"missing": expected["checks"] - checks}
    assert jobs == expected["jobs"]
    assert schedules == expected["schedules"]
    assert sensors == expected["sensors"]
    assert webserver.seconds_to_load < START_TIMEOUT


def test_ingestion_is_partitioned_by_year_and_participant(webserver):
    nodes = {"/".join(a["assetKey"]["path"]): a for a in webserver.graphql(CONTENTS)["assetNodes"]}
    for key in ("raw/submissions", "raw/return_values", "raw/submission_events"):
        partitions = nodes[key]["partitionDefinition"]
        assert partitions["type"] == "MULTIPARTITIONED", key
        dimensions = {d["name"]: d for d in partitions["dimensionTypes"]}
        assert dimensions["collection_year"]["type"] == "STATIC"
        assert dimensions["participant"]["type"] == "DYNAMIC"
        assert dimensions["participant"]["dynamicPartitionsDefinitionName"] == "participants"
    # the marts are built from every partition: not partitioned themselves
    assert nodes["marts/mart_benchmark"]["partitionDefinition"] is None


def _node_texts(page) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("svg foreignObject").all_text_contents()]


# The Dagster UI's Content-Security-Policy forbids eval, so the tests wait on locators
# (Playwright's own isolated world), never on `wait_for_function` strings.
WAIT_MS = 90_000


def test_asset_graph_renders_in_chromium(webserver, expected, tmp_path):
    shots = []
    with guarded_browser() as browser:
        page = guarded_page(browser, 1600, 1200)

        # Global lineage: one (collapsed) node per group.
        page.goto(f"{webserver.url}/asset-groups")
        for group in sorted(expected["groups"]):
            page.locator("svg foreignObject.group", has_text=group).first.wait_for(timeout=WAIT_MS)
        shots.append(page.screenshot(path=tmp_path / "dagster-lineage.png"))

        # A group's graph: asset nodes with their names and checks. The ingestion group (the
        # marts group, with every mart, opens zoomed out past the node labels).
        repo_path = f"__repository__@{webserver.location}"
        page.goto(f"{webserver.url}/locations/{repo_path}/asset-groups/ingestion")
        page.locator("svg foreignObject", has_text="submissions").filter(
            has_text="Asset checks"
        ).first.wait_for(timeout=WAIT_MS)
        texts = _node_texts(page)
        assert any(t.startswith("workflow_events") for t in texts), texts
        shots.append(page.screenshot(path=tmp_path / "dagster-marts.png"))
        assert_clean(page)

        # A mart's checks (the group graph, with every mart, is zoomed out too far to show
        # them): its GE gate suite and its dbt tests.
        page.goto(f"{webserver.url}/assets/marts/fct_indicator_values?view=checks")
        page.get_by_text("gx_fct_indicator_values").first.wait_for(timeout=WAIT_MS)
        shots.append(page.screenshot(path=tmp_path / "dagster-checks.png"))
        assert_clean(page)

    _keep(tmp_path, "dagster-lineage.png", "dagster-marts.png", "dagster-checks.png")


RUNS = "{ runsOrError { ... on Runs { results { runId status jobName } } } }"
PARTITION_KEYS = """
{ assetNodeOrError(assetKey: {path: ["raw", "submissions"]}) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys } } } }
"""


def test_the_cycles_run_shows_its_steps_and_success(webserver, tmp_path):
    # the cycle ran a draft_release, then (after sign-off and approval) the annual_cycle
    runs = webserver.graphql(RUNS)["runsOrError"]["results"]
    assert sorted(r["jobName"] for r in runs) == ["annual_cycle", "draft_release"]
    (run,) = [r for r in runs if r["jobName"] == "annual_cycle"]
    assert run["status"] == "SUCCESS"
    with guarded_browser() as browser:
        page = guarded_page(browser, 1600, 1200)
        page.goto(f"{webserver.url}/runs/{run['runId']}")
        page.get_by_text("RUN_SUCCESS").first.wait_for(timeout=WAIT_MS)
        text = page.locator("body").inner_text()
        assert run["runId"][:8] in text and "annual_cycle" in text and "Success" in text
        # no file was new since the draft: the final run leaves ingestion out, builds and publishes
        for step in ("mhbench_dbt_assets", "publish"):
            assert step in text, step
        page.screenshot(path=tmp_path / "dagster-run.png")
        assert_clean(page)
    _keep(tmp_path, "dagster-run.png")


def test_the_partitions_of_raw_submissions_are_materialized(webserver, cycle, tmp_path):
    node = webserver.graphql(PARTITION_KEYS)["assetNodeOrError"]
    keys = {d["name"]: d["partitionKeys"] for d in node["partitionKeysByDimension"]}
    import duckdb

    release = cycle.home / "releases" / "current" / "mhbench.duckdb"
    with duckdb.connect(str(release), read_only=True) as con:
        participants = {
            r[0]
            for r in con.execute("select participant_code from marts.dim_participant").fetchall()
        }
    assert participants <= set(keys["participant"])
    total = len(keys["collection_year"]) * len(keys["participant"])
    with guarded_browser() as browser:
        page = guarded_page(browser, 1600, 1200)
        page.goto(f"{webserver.url}/assets/raw/submissions?view=partitions")
        page.get_by_text(f"{total} Partitions").first.wait_for(timeout=WAIT_MS)
        text = page.locator("body").inner_text()
        assert "Materialized (" in text and "Failed (0)" in text
        for code in sorted(participants):
            assert code in text, code
        for year in keys["collection_year"]:
            assert year in text, year
        page.screenshot(path=tmp_path / "dagster-partitions.png")
        assert_clean(page)
    _keep(tmp_path, "dagster-partitions.png")


def _keep(folder, *names: str) -> None:
    TEST_OUTPUT.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(folder / name, TEST_OUTPUT / name)
