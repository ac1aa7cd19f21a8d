"""dbt models, seeds and tests as Dagster assets and checks.

One DbtProject, one translator: asset keys are `<schema>/<model>` (e.g.
`marts/fct_indicator_values`) and groups follow the dbt folders, so the asset
graph reads like the dbt project. dbt sources `raw.*` resolve to the keys of the
ingestion assets, which is how dbt depends on ingestion.
"""

import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.dagster_dbt_light import (
    DagsterDbtTranslator,
    DbtCliResource,
    DbtProject,
    MhbenchDbtCliResource,
    dbt_assets,
)
from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    dbt_executable,
    docs_page,
    docs_page_path,
    ensure_manifest,
    keep_parse_state,
    parse_report,
    release_kind_vars,
    returns_only_build,
    reuse_parse_state,
)
from orchestration.dbt_manifest import parse_state as dbt_parse_state
from orchestration.dbt_worker import take_dbt_worker
from orchestration.dead_runs import child_process_tags, dbt_target_name, process_tags
from orchestration.defs.resources import DUCKDB_WRITER_POOL, release_kind
from publishing.fingerprint import Fingerprint
from reporting.markdown import markdown_table
from runtime.home import Home
from runtime.processes import stop_child
from runtime.warehouse import connect_warehouse, warehouse_exists

COLLECTION_STATUS_MART = dg.AssetKey(["marts", "mart_collection_status"])

# The manifest is re-parsed here when a file of the dbt project changed, in every process and
# under `dagster dev` too (a reload picks up dbt edits). So no `dbt_project.prepare_if_dev()`:
# under `dagster dev` it would run `dbt parse` (plus `dbt --version`) on every load, even with
# nothing changed: tens of seconds per load on this machine.
ensure_manifest()

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class LayerTranslator(DagsterDbtTranslator):
    """Keys by schema, groups by layer (the dbt folder), owners and kinds for people."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        if resource_type == "seed":
            return dg.AssetKey(["reference", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["fqn"][1], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return "reference"
        if resource_type == "model":
            return dbt_resource_props["fqn"][1]
        return None

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:data-engineering"]


translator = LayerTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    # No select/exclude: without dbt-core in the process (orchestration/dagster_dbt_light.py)
    # dagster-dbt cannot evaluate them. dbt unit tests are not manifest nodes, so they never
    # were assets or checks; they are excluded from the `dbt build` below.
    pool=DUCKDB_WRITER_POOL,
)
def mhbench_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Seeds, staging, intermediate and marts, built and tested with `dbt build`.

    Nothing is built when the change fingerprint (publishing/fingerprint.py) says the build
    would give what already exists: the latest release of this kind, in a run that publishes;
    the warehouse's last build, in one that does not (the inbox sensor's). The step then yields
    no output, so every check and the release after it are skipped, and the run is tagged
    `mhbench/unchanged_since`.
    """
    # final or draft (a run tag): which participant-years the benchmarks count (int_release_scope)
    kind = release_kind(context.run.tags)
    home = Home.from_env()
    plan = _plan_build(context, home, kind)
    if plan.unchanged_since is not None:
        context.log.info(
            f"nothing changed since {plan.unchanged_since}: nothing to build or publish"
        )
        context.instance.add_run_tags(context.run.run_id, {UNCHANGED_TAG: plan.unchanged_since})
        return
    if context.run.tags.get(WARM_UP_TAG):
        _warm_up_great_expectations()
    exclude = ["test_type:unit"]
    left = returns_only_build() if plan.returns_only else None
    if left is not None:
        # dagster-dbt selects every node itself (`--select fqn:*`), tests included, so what is
        # left out is excluded, tests by name (`empty`: no test is dropped with its node). A
        # test of both kinds of node (a relationship from a fact to a dimension) runs.
        exclude += left.exclude()
        context.log.info(
            "building what the returns and the workflow feed (the code, seeds and dbt vars "
            f"are those of the build of run {plan.last_build_run}); left as built: "
            f"{', '.join(left.unfed)}; and the views, whose SQL is unchanged (their tests "
            f"run): {', '.join(left.views)}"
        )
    else:
        context.log.info(
            "building everything (first build, or the code, seeds or dbt vars changed)"
        )
    # dbt starts from this home's last parse of a build of this kind (dbt_manifest.parse_state);
    # under `mhbench run`, in the worker that imported dbt and parsed meanwhile (dbt_worker.py)
    worker = take_dbt_worker(home, kind)
    if worker is not None:
        dbt = dbt_resource(worker.executable)
    parse_state = dbt_parse_state(home.dbt_parse_state, kind)
    # named after the run, so that a dead run's dbt is found (dead_runs.run_processes)
    target = (
        DBT_PROJECT_DIR / "target" / f"{dbt_target_name(context.run.run_id)}{uuid.uuid4().hex[:8]}"
    )
    reuse_parse_state(parse_state, target)
    invocation = dbt.cli(
        [
            "build",
            "--exclude",
            " ".join(exclude),
            *(["--indirect-selection", "empty"] if left is not None else []),
            "--vars",
            release_kind_vars(kind),
        ],
        context=context,
        target_path=target,
    )
    # If this run's process dies, dbt would live on and keep the warehouse locked: the tag
    # lets the dead-run reclaim stop it (orchestration/dead_runs.py).
    # The run's own process too: a run of the dbt assets alone has no `home` resource to tag it.
    context.instance.add_run_tags(
        context.run.run_id,
        {**process_tags(context.run.run_id), **child_process_tags(invocation.process.pid)},
    )
    # From the enquiries mart's output on, events wait until dbt has let go of the warehouse
    # (its preview reads it), all of them: multi-asset outputs must keep dbt's topological order.
    held = []
    try:
        events = invocation.stream()
        if left is not None:
            # What the last build made from the same code and seeds, reported as such first (a
            # multi-asset yields in topological order, and nothing feeds them), so that their
            # checks and the release downstream run in this run as after a full build. Yielded
            # while dbt starts (~3 s before its first result): 12 outputs took 0.5 s before it.
            yield from _left_as_built(context, left.unfed, plan.last_build_run)
            # each view once the tables under it are rebuilt
            events = _with_views(context, events, left, plan.last_build_run)
        for event in events:
            if held or _event_asset_key(context, event) == ENQUIRIES_MART:
                held.append(event)
            else:
                yield event
    finally:
        # If the step fails while dbt still runs (e.g. an event dagster-dbt cannot map), stop
        # dbt: an orphaned dbt would keep the warehouse locked for every later reader.
        stop_child(invocation.process, grace_seconds=30)
    if held:
        preview = enquiries_preview(Home.from_env().warehouse, context.log)
        for event in held:
            if isinstance(event, dg.Output) and _event_asset_key(context, event) == ENQUIRIES_MART:
                event = event.with_metadata({**event.metadata, **preview})
            yield event
    if plan.fingerprint is not None and invocation.is_successful():
        _record_build(home, plan.fingerprint, context.run.run_id)
    if worker is None or not worker.kept_a_parse():
        keep_parse_state(invocation.target_path, parse_state)
    context.log.info(
        worker.report() if worker is not None else parse_report(invocation.target_path)
    )
    try:
        if invocation.is_successful() and not plan.returns_only and _publishes(context):
            _docs_page_from_build(
                context, home, invocation.target_path, kind, dbt.dbt_executable, parse_state
            )
    finally:
        if worker is not None:
            worker.close()
    if invocation.is_successful():
        # dagster-dbt gives every invocation a target folder of its own (~4 MB): without this,
        # one per sensor run piles up in dbt_project/target. dbt's log is in the run's.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
    if COLLECTION_STATUS_MART in context.selected_asset_keys and invocation.is_successful():
        # the team's view of the collection, on the asset's page in the UI (dbt has exited)
        from orchestration.defs.workflow import collection_status_preview

        yield dg.AssetObservation(
            asset_key=COLLECTION_STATUS_MART,
            metadata={"status": collection_status_preview(Home.from_env().warehouse)},
        )


# On a run whose dbt step found nothing to do: the release (or build) it would have repeated.
UNCHANGED_TAG = "mhbench/unchanged_since"
# Set by `mhbench run` (in-process execution): import great_expectations in a thread while dbt
# builds, so the first gate check does not wait for it; not when nothing is built.
WARM_UP_TAG = "mhbench/warm_up_great_expectations"


def _warm_up_great_expectations() -> None:
    import threading

    # great_expectations imports sqlalchemy.orm, which sqlalchemy also imports lazily on the
    # first `IN` query of Dagster's event log, in this thread: two threads importing it at once
    # saw it half-initialized ("partially initialized module 'sqlalchemy.orm.exc'"). Imported
    # here first, whole, before the thread starts.
    import sqlalchemy.orm  # noqa: F401

    from expectations.runner import warm_up

    threading.Thread(target=warm_up, name="warm-up-gx", daemon=True).start()


def _docs_page_from_build(
    context: dg.AssetExecutionContext,
    home: Home,
    build: Path,
    kind: str,
    executable: str,
    state: Path,
) -> None:
    """The release's dbt docs page, from this full build's manifest (no compiling again), when
    this version of the dbt project has none yet; on failure the release makes it itself.
    `executable`: the build's `dbt` (under `mhbench run`, the worker's, where dbt-core is
    imported already); `state`: the parse just kept for the home, which dbt starts from (the
    build's target folder holds none when the worker parsed ahead: dbt parsed the whole
    project again, 1.3 s of the page's 1.7 s)."""
    if docs_page_path(home.dbt_docs_cache).exists():
        return
    started = time.perf_counter()
    try:
        docs_page(home.dbt_docs_cache, state, release_kind=kind, build=build, executable=executable)
    except RuntimeError as exc:
        context.log.warning(f"the dbt docs page was not made from this build: {exc}")
        return
    context.log.info(
        "dbt docs page of this version of the dbt project made from this build's manifest "
        f"in {time.perf_counter() - started:.1f} s"
    )


def _publishes(context: dg.AssetExecutionContext) -> bool:
    from orchestration.defs.publish import RELEASE

    return RELEASE in context.job_def.asset_layer.selected_asset_keys


# The parts of the fingerprint that define the build itself (not its inputs).
_DEFINITION_PARTS = ("code_version", "dictionary_version", "dbt_vars")


@dataclass(frozen=True)
class BuildPlan:
    fingerprint: Fingerprint | None  # None: no warehouse yet (nothing to fingerprint)
    unchanged_since: str | None = None  # what this build would repeat: nothing to do
    returns_only: bool = False  # only returns/workflow changed since the last build
    last_build_run: str | None = None


def _plan_build(context: dg.AssetExecutionContext, home: Home, kind: str) -> BuildPlan:
    """What this run's dbt step must build, from the change fingerprint.

    Nothing, when it would repeat what exists: `release <id>` (a run that publishes: the
    latest release of its kind) or the warehouse's last build (a run that does not). Only the
    nodes downstream of the raw tables, when the code, seeds and dbt vars are those of the
    warehouse's last build. Everything otherwise."""
    from orchestration.dbt_manifest import project_vars
    from orchestration.defs.ingestion import ensure_raw_tables
    from publishing.fingerprint import last_build, release_fingerprint, release_fingerprint_digest
    from publishing.store import latest_release

    # none yet: the dbt assets materialized alone, before any ingestion
    if not warehouse_exists(home.warehouse):
        return BuildPlan(None)
    with connect_warehouse(home.warehouse) as con:
        # the raw tables dbt reads, migrated, also when this run ingested nothing
        ensure_raw_tables(con, context.log)
        fingerprint = release_fingerprint(con, kind, project_vars())
        previous = last_build(con)
    context.log.info(f"change fingerprint {fingerprint.digest} ({kind})")
    if _publishes(context):
        latest = latest_release(home, kind)
        if latest and release_fingerprint_digest(latest.manifest) == fingerprint.digest:
            return BuildPlan(fingerprint, unchanged_since=f"release {latest.release_id}")
    elif previous is not None and previous.fingerprint.digest == fingerprint.digest:
        return BuildPlan(fingerprint, unchanged_since=f"the build of run {previous.run_id}")
    returns_only = previous is not None and all(
        previous.fingerprint.parts.get(part) == fingerprint.parts[part]
        for part in _DEFINITION_PARTS
    )
    return BuildPlan(
        fingerprint,
        returns_only=returns_only,
        last_build_run=previous.run_id if previous else None,
    )


def _record_build(home: Home, fingerprint, run_id: str) -> None:
    from publishing.fingerprint import record_build

    with connect_warehouse(home.warehouse) as con:
        record_build(con, fingerprint, run_id)


ENQUIRIES_MART = dg.AssetKey(["marts", "mart_lines_of_enquiry"])
PREVIEW_ROWS = 20


def _left_as_built(
    context: dg.AssetExecutionContext, kept: tuple[str, ...], last_build_run: str | None
):
    """The outputs of the nodes `kept` (left as built by run `last_build_run`), parents first."""
    by_name = {key.path[-1]: key for key in context.selected_asset_keys}
    for key in (by_name[name] for name in kept if name in by_name):
        yield dg.Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={"mhbench/rebuilt": False, "mhbench/built_by_run": last_build_run or ""},
        )


def _with_views(context: dg.AssetExecutionContext, events, left, last_build_run: str | None):
    """dbt's events, with the output of each view left as built (`left.views`) right after
    the outputs of its parents: as dbt would have built it then. A view whose parent failed
    is not reported (dbt would have skipped it)."""
    done = set(left.unfed)
    pending = dict(left.views)

    def ready():
        while names := [v for v, parents in pending.items() if set(parents) <= done]:
            for name in names:
                del pending[name]
                done.add(name)
            yield from _left_as_built(context, tuple(names), last_build_run)

    yield from ready()
    for event in events:
        yield event
        key = _event_asset_key(context, event) if isinstance(event, dg.Output) else None
        if key is not None:
            done.add(key.path[-1])
            yield from ready()


def _event_asset_key(context: dg.AssetExecutionContext, event) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    return getattr(event, "asset_key", None)


def enquiries_preview(warehouse, log) -> dict:
    """Metadata of the lines-of-enquiry mart: each participant's first enquiries of the latest
    year. Read after dbt exited (a reader cannot open the warehouse while dbt writes it); a
    failure to read is logged and leaves the materialization as it is."""
    import duckdb

    from reporting.enquiries import top_enquiries_preview

    try:
        with connect_warehouse(warehouse, read_only=True) as con:
            year, rows = top_enquiries_preview(con)
    except duckdb.Error as exc:
        log.warning(f"no preview of the lines of enquiry: {exc}")
        return {}
    return {
        "latest_year": year,
        "enquiries_shown": len(rows),
        "top_enquiries": dg.MetadataValue.md(markdown_table(rows, limit=PREVIEW_ROWS)),
    }


def dbt_resource(executable: str | None = None) -> DbtCliResource:
    """The dbt CLI of the dbt assets: this environment's `dbt`, or `executable`."""
    return MhbenchDbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=executable or dbt_executable(),
    )
