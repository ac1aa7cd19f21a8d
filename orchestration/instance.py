"""The Dagster instance the CLI and the UI share: $DAGSTER_HOME, default $MHBENCH_HOME/dagster.

Runs started by `mhbench run` are recorded there, so `make ui` shows them.
"""

from __future__ import annotations

import os
from pathlib import Path

from runtime.home import Home

DAGSTER_YAML = """\
# Written by mhbench. No network at run time: telemetry off.
telemetry:
  enabled: false
# One writer at a time on the build warehouse (pool used by ingestion, dbt and publish).
concurrency:
  pools:
    default_limit: 1
"""


def ensure_dagster_home(home: Home) -> Path:
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home.root / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def configure_environment() -> Home:
    """Resolve MHBENCH_HOME to an absolute path for every subprocess, telemetry off."""
    home = Home.from_env().ensure()
    os.environ["MHBENCH_HOME"] = str(home.root)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    ensure_dagster_home(home)
    return home
