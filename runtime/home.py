"""The runtime layout under MHBENCH_HOME (see DESIGN.md, "Runtime layout").

Every path the platform reads or writes derives from one setting, so a test or a
second machine only has to point MHBENCH_HOME somewhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "data"
# The release kinds (DESIGN.md, "Release kinds"): `final` releases become releases/current,
# `draft` ones go under releases/drafts/ (`Home.drafts`).
FINAL, DRAFT = "final", "draft"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get("MHBENCH_HOME", DEFAULT_HOME)).resolve())

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def inbox_year(self, year: int) -> Path:
        return self.inbox / str(year)

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "build.duckdb"

    @property
    def dbt_docs_cache(self) -> Path:
        """The dbt docs page of the current dbt project, made once per version of it."""
        return self.root / "warehouse" / "dbt-docs"

    @property
    def dbt_parse_state(self) -> Path:
        """dbt's parse of this home's builds, one file per release kind, kept between runs."""
        return self.root / "warehouse" / "dbt-parse"

    @property
    def chart_cache(self) -> Path:
        """The report charts drawn before, by what they were drawn from (reporting/chart_cache.py)."""
        return self.root / "cache" / "charts"

    @property
    def gx_validation_cache(self) -> Path:
        """The gate's validations, by the rows and suite validated (expectations/kept_validations.py)."""
        return self.root / "cache" / "gx-validations"

    @property
    def gx_data_docs(self) -> Path:
        """Great Expectations Data Docs of the quality gate, one site per Dagster run."""
        return self.root / "quality" / "gx-data-docs"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def current_release(self) -> Path:
        return self.releases / "current"

    @property
    def drafts(self) -> Path:
        """Draft releases, for participants to review: never `current`."""
        return self.releases / "drafts"

    def draft_packs(self, year: int) -> Path:
        """Where each participant's draft pack for a collection year goes."""
        return self.outbox / str(year) / "drafts"

    def ensure(self) -> Home:
        for path in (self.inbox, self.archive, self.reports, self.warehouse.parent, self.releases):
            path.mkdir(parents=True, exist_ok=True)
        return self
