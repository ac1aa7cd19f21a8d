"""Resources: every path derives from MHBENCH_HOME, read at run time through EnvVar."""

from pathlib import Path

import dagster as dg

from runtime.home import DRAFT, FINAL, Home

# One process at a time on warehouse/build.duckdb (DuckDB is single-writer and a reader cannot
# open the file while another process writes): ingestion, dbt, the gate checks, publish and
# the completeness report share this pool. dagster.yaml sets its limit to 1.
DUCKDB_WRITER_POOL = "duckdb_writer"


def ingestion_pool() -> str | None:
    """The pool of ingestion: duckdb_writer on the file warehouse; none on DuckLake, where runs
    of different partitions write at once (a partition's runs take turns on an advisory lock
    in the catalog's PostgreSQL: runtime/warehouse.py, `partition_locks`). dbt, the gate and
    publish keep duckdb_writer on both. Read when the code location loads."""
    from runtime.warehouse import is_lake

    return None if is_lake() else DUCKDB_WRITER_POOL


# The kind of release a run builds (DESIGN.md, "Release kinds"; runtime/home.py): `final`
# (approved participant-years only, becomes releases/current) or `draft` (every accepted one,
# for review, under releases/drafts/). A run tag, read by the dbt build (var release_kind) and
# by publish.
RELEASE_KIND_TAG = "mhbench/release_kind"


def release_kind(tags: dict[str, str]) -> str:
    kind = tags.get(RELEASE_KIND_TAG, FINAL)
    if kind not in (FINAL, DRAFT):
        raise dg.Failure(f"run tag {RELEASE_KIND_TAG} must be {FINAL} or {DRAFT}, not {kind!r}")
    return kind


class HomeResource(dg.ConfigurableResource):
    """Where the platform keeps its runtime files (inbox, archive, warehouse, releases)."""

    root: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Tag the run with the host and pid executing it, so a dead run can be told apart.

        Runs launched by the daemon get their process only here (the CLI tags its runs at
        launch); orchestration/dead_runs.py reads these tags.
        """
        from orchestration.dead_runs import process_tags

        run = context.run
        if context.instance is None or run is None:
            return
        tags = process_tags(run.run_id)
        if any(run.tags.get(key) != value for key, value in tags.items()):
            context.instance.add_run_tags(run.run_id, tags)

    @property
    def home(self) -> Home:
        return Home(Path(self.root).resolve()).ensure()
