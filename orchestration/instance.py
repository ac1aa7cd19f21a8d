"""The Dagster instance the CLI and the UI share: $DAGSTER_HOME, default $MHBENCH_HOME/dagster.

Runs started by `mhbench run` are recorded there, so `make ui` shows them.

The platform owns some sections of `$DAGSTER_HOME/dagster.yaml` (`OWNED_SETTINGS`): they
are brought up to date on every start, so a home made by an older version gets new
settings, while every other section a user added (storage, run launcher, ...) is kept.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import yaml

from runtime.home import Home

# Sections of dagster.yaml the platform writes; each key below is set on every start.
OWNED_SETTINGS: dict = {
    # No network at run time.
    "telemetry": {"enabled": False},
    # One writer at a time on the build warehouse (pool duckdb_writer: ingestion, dbt, the gate
    # checks and publish).
    "concurrency": {"pools": {"default_limit": 1}},
    # A run whose worker died must not hold the warehouse: the daemon fails a run stuck in
    # STARTING, marks one stuck in CANCELING canceled, and frees the slots of a run that
    # ended. (A worker killed while STARTED is found by orchestration/dead_runs.py.)
    "run_monitoring": {
        "enabled": True,
        "start_timeout_seconds": 180,
        "cancel_timeout_seconds": 60,
        "poll_interval_seconds": 30,
        "free_slots_after_run_end_seconds": 30,
    },
}
_HEADER = (
    "# Written by mhbench. It owns the sections telemetry, concurrency.pools.default_limit and\n"
    "# run_monitoring (brought up to date on every start); every other setting is yours and kept.\n"
)


def _merge(current: dict, owned: dict) -> dict:
    """`current` with every key of `owned` set (recursively); other keys are kept."""
    merged = copy.deepcopy(current)
    for key, value in owned.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def render_dagster_yaml(current: dict | None = None) -> str:
    """dagster.yaml with the platform's sections up to date over `current` (a parsed file)."""
    return _HEADER + yaml.safe_dump(_merge(current or {}, OWNED_SETTINGS), sort_keys=False)


# A fresh instance's dagster.yaml (tests and benchmarks write it into homes of their own).
DAGSTER_YAML = render_dagster_yaml()


class DagsterYamlError(Exception):
    """dagster.yaml exists but cannot be read as a mapping: it is left untouched."""


def update_dagster_yaml(config: Path) -> bool:
    """Bring the platform's sections of `config` up to date; whether the file changed."""
    current: dict = {}
    if config.exists():
        text = config.read_text(encoding="utf-8")
        try:
            current = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DagsterYamlError(f"{config} is not valid YAML: {exc}") from exc
        if not isinstance(current, dict):
            raise DagsterYamlError(f"{config} should hold a mapping of settings")
        if _merge(current, OWNED_SETTINGS) == current:
            return False
    mode = config.stat().st_mode & 0o777 if config.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=config.parent, prefix=".dagster.yaml.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_dagster_yaml(current))
    os.chmod(tmp, mode)
    os.replace(tmp, config)
    return True


def ensure_dagster_home(home: Home) -> Path:
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home.root / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    update_dagster_yaml(dagster_home / "dagster.yaml")
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
