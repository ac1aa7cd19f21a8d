"""Resources: every path derives from MHBENCH_HOME, read at run time through EnvVar."""

from pathlib import Path

import dagster as dg

from ingestion.home import Home

# One writer at a time on warehouse/build.duckdb: ingestion, dbt and publish share this pool.
DUCKDB_WRITER_POOL = "duckdb_writer"


class HomeResource(dg.ConfigurableResource):
    """Where the platform keeps its runtime files (inbox, archive, warehouse, releases)."""

    root: str

    @property
    def home(self) -> Home:
        return Home(Path(self.root).resolve()).ensure()
