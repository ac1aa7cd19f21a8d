"""Publish: the release asset, downstream of every published mart.

In the annual cycle the gate checks are blocking, so this asset only runs when every
suite passed. It also refuses on its own unless every gate check was evaluated, and
succeeded, in the same run: a check result from an earlier run says nothing about the
warehouse as it is now (it may have been rebuilt or edited since), so a failed or
skipped suite can never be bypassed by materializing the release alone. The previous
release then stays current.

A final release (the default) holds the approved participant-years only and becomes
releases/current; it refuses to publish when none is approved. A draft (run tag
mhbench/release_kind=draft: `mhbench run --draft`, the draft_release job) holds every
accepted one, lands in releases/drafts/<id>/ watermarked, never becomes current, carries no
SDMX and no workbook (they are for partner agencies and members), and writes one draft pack
per participant into outbox/<year>/drafts/.

The release ships the Great Expectations Data Docs of that same run (docs/gx/): the
site of this run's gate validations, in which every gate check must have its page.
"""

import shutil
from collections import Counter
from pathlib import Path

import dagster as dg

from expectations.check_status import CheckStatus
from orchestration.defs.drift import DRIFT_CHECK_KEY
from orchestration.defs.quality import (
    FAILURES_METADATA,
    GX_DATA_DOCS,
    PUBLISHED_MARTS,
    gate_data_docs,
    gate_data_docs_pages,
)
from orchestration.defs.resources import (
    DRAFT,
    DUCKDB_WRITER_POOL,
    FINAL,
    HomeResource,
    release_kind,
)
from reporting.markdown import markdown_table
from runtime.warehouse import connect_warehouse

RELEASE = dg.AssetKey(["publish", "release"])
GATE_CHECK_KEYS = [
    dg.AssetCheckKey(dg.AssetKey(["marts", mart]), f"gx_{mart}") for mart in PUBLISHED_MARTS
]
# Reported in the manifest and the quality report, never blocking.
WARNING_CHECK_KEYS = [DRIFT_CHECK_KEY]
_METADATA_FIELDS = (
    "suite",
    "rows_validated",
    "expectations_evaluated",
    "expectations_failed",
    "data_docs",
    "data_docs_error",
    "validated",
)


# How far back to look for a run's own check evaluations among those of concurrent runs.
_HISTORY_LIMIT = 200


class GateNotPassed(Exception):
    """A blocking quality check did not pass: nothing is published."""


class NothingApproved(dg.Failure):
    """A final release was asked for, and no participant-year is approved: nothing published.

    A Failure, so that the run (and `mhbench run`'s summary) shows the reason itself rather
    than a traceback."""

    def __init__(self, reason: str) -> None:
        super().__init__(description=reason, allow_retries=False)


def release_scope(warehouse: Path, kind: str) -> dict:
    """The participant-years the release holds and those it leaves out, with their states.

    `included` is dbt's int_release_scope, frozen when the marts were built (so an approval
    recorded since changes nothing in this release); `left_out` is every other participant-
    year that received a file, with its state now.
    """
    from workflow.actions import statuses

    with connect_warehouse(warehouse, read_only=True) as con:
        rows = statuses(con)
        built = con.execute(
            "select participant_code, collection_year, state, submission_id "
            "from intermediate.int_release_scope order by collection_year, participant_code"
        ).fetchall()
    included = [
        {"participant_code": p, "collection_year": y, "state": state, "submission_id": sid}
        for p, y, state, sid in built
    ]
    inside = {(e["participant_code"], e["collection_year"]) for e in included}
    left_out = [
        {
            "participant_code": r["participant_code"],
            "collection_year": r["collection_year"],
            "state": r["state"],
            "submission_id": r["latest_submission_id"],
            "note": r["state_note"],
        }
        for r in rows
        if (r["participant_code"], r["collection_year"]) not in inside
        and (r["latest_submission_id"] or r["rejected_files"])
    ]
    return {"kind": kind, "included": included, "left_out": left_out}


def built_fingerprint(warehouse: Path, run_id: str):
    """The change fingerprint of this run's dbt build (None when this run built nothing: the
    release asset materialized alone, which then records none and is never taken as
    unchanged)."""
    from publishing.fingerprint import build_of_run

    with connect_warehouse(warehouse, read_only=True) as con:
        return build_of_run(con, run_id)


# From this many packs on, a process of their own shares them with the release step
# (reporting/packs_process.py): starting it and reading the release costs ~0.5 s, more than
# the sample's 12 packs take (0.36 s); the 50 packs at 50 participants take 4.8 s of one core.
PACKS_FOR_A_HELPER = 24


class DraftPacks:
    """One draft pack per participant of the latest year: its own report, highlighted in its
    tables, without the charts of every indicator (those are the release's report.html, drawn
    once: a pack with them took seconds per participant, ~25 s each at 50 participants). The
    release is read once for all of them.

    The packs are part of the release's page writer: `start` (before the release's own
    pages) starts, for many packs, a process that writes them from the first, on the core a
    draft leaves free (it has no workbook); `render` (after the pages) writes them from the
    last until the two meet, and waits for that process. They wait in an `.incoming-` folder
    of the drafts, which a publish killed meanwhile leaves for the next publish to clear, and
    `deliver` moves them into the outbox once the release is published."""

    def __init__(self, home, scope: dict, chart_cache=None) -> None:
        from publishing.store import INCOMING_PREFIX

        self.home = home
        self.chart_cache = chart_cache
        self.year = max((e["collection_year"] for e in scope["included"]), default=None)
        self.codes = sorted({e["participant_code"] for e in scope["included"]})
        self.prefix = f"{INCOMING_PREFIX}packs-"
        self.rendered: list[Path] = []
        self._outputs: dict[str, Path] = {}
        self.by_helper = 0  # how many of them the helper process wrote
        self._helper = None
        self._claim = None  # with a helper: who writes which pack (reporting/packs_process.py)

    def start(self, release_folder: Path, manifest: dict) -> None:
        """Name every pack, and start the helper process when they are many."""
        from reporting.packs_process import pack_claims, start_participant_reports

        if self.year is None:
            return
        waiting = self.home.drafts / f"{self.prefix}{manifest['release_id']}"
        self._outputs = {
            code: waiting / f"{code}_{self.year}_draft_{manifest['release_id']}.html"
            for code in self.codes
        }
        if len(self._outputs) >= PACKS_FOR_A_HELPER:
            self._claim = pack_claims(waiting)
            cache = self.chart_cache.folder if self.chart_cache is not None else None
            self._helper = start_participant_reports(
                release_folder, self._outputs, self.year, manifest, cache, waiting
            )

    def render(self, release_folder: Path, manifest: dict) -> None:
        """Write the packs (those the helper has not claimed, from the last), then wait for
        the helper's (its failure fails the release, as the workbook's does)."""
        from reporting.benchmark_report import write_participant_reports

        try:
            ours = self._outputs
            if self._helper is not None:  # from the last, as the helper goes from the first
                ours = dict(reversed(list(ours.items())))
            if ours:
                self.rendered = write_participant_reports(
                    release_folder,
                    ours,
                    year=self.year,
                    charts=False,
                    manifest=manifest,
                    chart_cache=self.chart_cache,
                    claim=self._claim,
                )
            if self._helper is not None:
                answer = self._helper.wait()
                self.by_helper = len(answer["written"])
                self.rendered += [Path(path) for path in answer["written"]]
                if self.chart_cache is not None:  # the release's tally counts the helper's
                    self.chart_cache.misses += answer["charts_drawn"]
                    self.chart_cache.hits += answer["charts_from_cache"]
            missing = sorted(set(self._outputs.values()) - set(self.rendered))
            if missing:
                raise RuntimeError(f"draft packs not written: {', '.join(p.name for p in missing)}")
            self.rendered.sort()
        finally:
            self.stop()

    def stop(self) -> None:
        """End the helper if it still runs (the release failed before its packs were needed)."""
        if self._helper is not None:
            self._helper.stop()
            self._helper = None

    def deliver(self) -> list[Path]:
        """Move the rendered packs into the outbox (after the release is published)."""
        if not self.rendered:
            return []
        folder = self.home.draft_packs(self.year)
        folder.mkdir(parents=True, exist_ok=True)
        delivered = []
        for pack in self.rendered:
            delivered.append(Path(shutil.move(pack, folder / pack.name)))
        shutil.rmtree(self.rendered[0].parent, ignore_errors=True)
        return delivered


def _check_result(key: dg.AssetCheckKey, record, run_id: str | None, blocking: bool) -> dict:
    result = {"check": f"{key.asset_key.to_user_string()}:{key.name}", "blocking": blocking}
    if record is None:
        return {**result, "status": CheckStatus.NOT_RUN, "run_id": None}
    if run_id is not None and record.run_id != run_id:
        return {**result, "status": CheckStatus.NOT_RUN_IN_THIS_RUN, "run_id": record.run_id}
    result.update(status=CheckStatus(record.status.value), run_id=record.run_id)
    evaluation = record.evaluation
    if evaluation is not None:
        metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
        result.update({k: metadata[k] for k in _METADATA_FIELDS if k in metadata})
        result["severity"] = evaluation.severity.value
        # Every failure, as the check recorded it (JSON metadata, not the markdown preview).
        result["failures"] = list(metadata.get(FAILURES_METADATA) or [])
    return result


def gate_results(instance: dg.DagsterInstance, run_id: str | None = None) -> list[dict]:
    """The latest evaluation of every gate check (and warning check), with its GE metadata.

    With `run_id`, an evaluation from another run counts as not run.
    """
    keys = GATE_CHECK_KEYS + WARNING_CHECK_KEYS
    storage = instance.event_log_storage
    if run_id is None:
        latest = storage.get_latest_asset_check_execution_by_key(keys)
    else:
        # this run's own evaluation, even if a concurrent run (the inbox sensor starts one per
        # file) evaluated the same check after it
        latest = {}
        for key in keys:
            history = storage.get_asset_check_execution_history(key, limit=_HISTORY_LIMIT)
            ours = [record for record in history if record.run_id == run_id]
            latest[key] = ours[0] if ours else (history[0] if history else None)
    results = [
        _check_result(key, latest.get(key), run_id, blocking=key in GATE_CHECK_KEYS) for key in keys
    ]
    # A warning check that did not run (in this run) is left out rather than shown as missing.
    return [r for r in results if r["blocking"] or r["status"].evaluated]


@dg.asset(
    key=RELEASE,
    deps=[*(dg.AssetKey(["marts", mart]) for mart in PUBLISHED_MARTS), GX_DATA_DOCS],
    group_name="publish",
    kinds={"python", "duckdb", "parquet"},
    owners=["team:data-engineering"],
    pool=DUCKDB_WRITER_POOL,
    description=(
        "An immutable release folder (DuckDB, Parquet, CSV, manifest, quality report, dbt "
        "docs and the Great Expectations Data Docs of the gate; a final release also SDMX and "
        "an Excel workbook) of the marts, published only when every gate check passed in the "
        "same run; releases/current then points at it."
    ),
)
def release(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    from expectations.drift import drift_summary
    from ingestion.registry import mark_published
    from orchestration.dbt_manifest import (
        docs_page,
        mart_descriptions,
        parse_state,
        project_vars,
    )
    from publishing.exports import ExportSettings
    from publishing.store import DBT_DOCS_INDEX, GX_DOCS_INDEX, build_release, current_release
    from reporting.chart_cache import ChartCache
    from reporting.release_pages import QUALITY_FILE, REPORT_FILE, release_page_writer

    kind = release_kind(context.run.tags)
    checks = gate_results(context.instance, run_id=context.run.run_id)
    not_passed = [c for c in checks if c["blocking"] and c["status"] != CheckStatus.SUCCEEDED]
    if not_passed:
        raise GateNotPassed(
            "not publishing: gate checks not passed in this run: "
            + ", ".join(f"{c['check']} ({c['status']})" for c in not_passed)
            + ". Materialize the release together with its checks (the annual_cycle job)."
        )
    paths = home.home
    scope = release_scope(paths.warehouse, kind)
    fingerprint = built_fingerprint(paths.warehouse, context.run.run_id)
    if kind == FINAL and not scope["included"]:
        states = Counter(e["state"] for e in scope["left_out"])
        raise NothingApproved(
            "not publishing a final release: no participant-year is approved yet ("
            + ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(states.items()))
            + "). Publish a draft for review with `mhbench run --draft`, record sign-off and "
            "approval with `mhbench signoff` and `mhbench approve`, then run again."
        )
    # The Data Docs of this run's gate only: every gate check's page must be in its site.
    gx_site = gate_data_docs(paths, context.run.run_id)
    gate_data_docs_pages(checks, gx_site.site_dir.resolve())
    previous = current_release(paths)
    drift = drift_summary(
        previous.release_id if previous else None,
        previous.database if previous else None,
        paths.warehouse,
    )
    # The report and the packs draw only the charts whose data changed since an earlier render.
    chart_cache = ChartCache(paths.chart_cache)
    release_pages = release_page_writer(chart_cache=chart_cache)
    draft_packs = DraftPacks(paths, scope, chart_cache) if kind == DRAFT else None

    def pages(folder: Path, manifest: dict) -> None:
        if draft_packs is None:
            release_pages(folder, manifest)
            return
        draft_packs.start(folder, manifest)
        try:
            release_pages(folder, manifest)
        except BaseException:
            draft_packs.stop()
            raise
        draft_packs.render(folder, manifest)

    published = build_release(
        paths,
        list(PUBLISHED_MARTS),
        checks,
        drift=drift,
        pages=pages,
        dbt_docs=docs_page(
            paths.dbt_docs_cache, parse_state(paths.dbt_parse_state, kind), release_kind=kind
        ),
        gx_docs=gx_site.site_dir,
        kind=kind,
        scope=scope,
        exports=ExportSettings.from_dbt_vars(
            project_vars(), mart_descriptions(), draft=kind == DRAFT
        ),
        fingerprint=fingerprint.as_manifest() if fingerprint else None,
    )
    packs = []
    if kind == FINAL:
        with connect_warehouse(paths.warehouse) as con:
            mark_published(
                con,
                [s["submission_id"] for s in published.manifest["submissions"]],
                published.release_id,
            )
    else:
        packs = draft_packs.deliver()
        context.log.info(
            f"wrote {len(packs)} draft pack(s) into {paths.outbox}"
            + (
                f" ({draft_packs.by_helper} by a process of their own)"
                if draft_packs.by_helper
                else ""
            )
        )
    context.log.info(
        f"published {kind} release {published.release_id} at {published.path} "
        f"({len(scope['included'])} participant-years included, "
        f"{len(scope['left_out'])} left out); charts: {chart_cache.misses} drawn, "
        f"{chart_cache.hits} as drawn before (the home's chart cache)"
    )
    if chart_cache.not_kept:
        context.log.warning(
            f"report charts could not be kept in {paths.chart_cache} ({chart_cache.not_kept}): "
            "the next report draws them again"
        )
    if drift["drifting"]:
        context.log.warning(
            f"{len(drift['drifting'])} benchmark medians moved more than "
            f"{drift['threshold_pct']:g}% since release {drift['previous_release']}"
        )
    return dg.MaterializeResult(
        metadata={
            "release_id": published.release_id,
            "kind": kind,
            "fingerprint": fingerprint.digest if fingerprint else "none",
            "participant_years_included": len(scope["included"]),
            "participant_years_left_out": len(scope["left_out"]),
            "draft_packs": len(packs),
            "charts_drawn": chart_cache.misses,
            "charts_from_cache": chart_cache.hits,
            "previous_release": drift["previous_release"] or "none",
            "path": dg.MetadataValue.path(str(published.path)),
            "database": dg.MetadataValue.path(str(published.database)),
            "manifest": dg.MetadataValue.path(str(published.path / "manifest.json")),
            "quality_report": dg.MetadataValue.path(str(published.path / QUALITY_FILE)),
            "benchmarking_report": dg.MetadataValue.path(str(published.path / REPORT_FILE)),
            "dbt_docs": dg.MetadataValue.path(str(published.path / DBT_DOCS_INDEX)),
            "gx_data_docs": dg.MetadataValue.path(str(published.path / GX_DOCS_INDEX)),
            "submissions": len(published.manifest["submissions"]),
            "drifting_medians": len(drift["drifting"]),
            "row_counts": dg.MetadataValue.md(
                markdown_table(
                    [{"mart": m, "rows": n} for m, n in published.manifest["marts"].items()]
                )
            ),
        }
    )
