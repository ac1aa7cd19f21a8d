"""Resources: every path derives from MHBENCH_HOME, read at run time through EnvVar."""

from pathlib import Path

import dagster as dg

from runtime.home import Home

# One process at a time on warehouse/build.duckdb (DuckDB is single-writer and a reader cannot
# open the file while another process writes): ingestion, dbt, the gate checks, publish and
# the completeness report share this pool. dagster.yaml sets its limit to 1.
DUCKDB_WRITER_POOL = "duckdb_writer"


class HomeResource(dg.ConfigurableResource):
    """Where the platform keeps its runtime files (inbox, archive, warehouse, releases)."""

    root: str

    @property
    def home(self) -> Home:
        return Home(Path(self.root).resolve()).ensure()
