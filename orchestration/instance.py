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
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from runtime.home import Home
from runtime.postgres import PgAddress

# Sections of dagster.yaml the platform writes; each key below is set on every start.
OWNED_SETTINGS: dict = {
    # No network at run time.
    "telemetry": {"enabled": False},
    # One writer at a time on the build warehouse (pool duckdb_writer: ingestion, dbt, the gate
    # checks and publish).
    "concurrency": {"pools": {"default_limit": 1}},
    # The daemon dequeues runs, so a run waits for the pool instead of failing on the lock
    # (Dagster's default for a dagster.yaml instance; written down so that it stays so).
    "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
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
    "# Written by mhbench. It owns the sections telemetry, concurrency.pools.default_limit,\n"
    "# run_coordinator.class and run_monitoring; event_log_storage on SQLite, and storage while\n"
    "# MHBENCH_DAGSTER_PG is set (brought up to date on every start); every other setting is\n"
    "# yours and kept.\n"
)

# The SQLite instance's event log: Dagster's own storage and files, keeping its connections
# (orchestration/event_log_storage.py); in Dagster's default place, history/runs/.
EVENT_LOG_MODULE = "orchestration.event_log_storage"
EVENT_LOG_CLASS = "KeptSqliteEventLogStorage"


def _event_log_storage(dagster_home: Path) -> dict:
    return {
        "module": EVENT_LOG_MODULE,
        "class": EVENT_LOG_CLASS,
        "config": {"base_dir": str(dagster_home / "history" / "runs")},
    }


def _ours(section: object) -> bool:
    return isinstance(section, dict) and section.get("module") == EVENT_LOG_MODULE


# The Dagster instance on PostgreSQL: the database's URL, read by every Dagster process.
PG_ENV = "MHBENCH_DAGSTER_PG"
# Its scheme names the driver dagster-postgres comes with: SQLAlchemy 2.1 would otherwise
# take postgresql:// for psycopg 3.
PG_SCHEME = "postgresql+psycopg2"
# Run, event-log and schedule storage in that database (dagster-postgres).
PG_STORAGE: dict = {"postgres": {"postgres_url": {"env": PG_ENV}}}
# Per-kind storage sections of older dagster.yaml files; Dagster refuses them beside `storage`.
_LEGACY_STORAGE = ("run_storage", "event_log_storage", "schedule_storage")


def _merge(current: dict, owned: dict) -> dict:
    """`current` with every key of `owned` set (recursively); other keys are kept."""
    merged = copy.deepcopy(current)
    for key, value in owned.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _owned(current: dict, environ: Mapping[str, str], dagster_home: Path) -> dict:
    """`current` with the platform's sections set, for this environment and the instance in
    `dagster_home`."""
    merged = _merge(current, OWNED_SETTINGS)
    if environ.get(PG_ENV):
        if _ours(merged.get("event_log_storage")):
            del merged["event_log_storage"]  # PostgreSQL keeps the event log
        legacy = [key for key in _LEGACY_STORAGE if key in merged]
        if legacy:
            raise DagsterYamlError(
                f"{PG_ENV} is set, but dagster.yaml also names its own {', '.join(legacy)}: "
                "remove those sections, the instance's storage is then PostgreSQL"
            )
        merged["storage"] = copy.deepcopy(PG_STORAGE)  # replaced whole: one kind of storage
    elif "storage" not in merged and (
        # Dagster's default SQLite instance, or ours already: a user's own event log is kept
        merged.get("event_log_storage") is None or _ours(merged["event_log_storage"])
    ):
        merged["event_log_storage"] = _event_log_storage(dagster_home)
    return merged


def render_dagster_yaml(
    dagster_home: Path, current: dict | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The dagster.yaml of the instance in `dagster_home`, with the platform's sections up to
    date over `current` (a parsed file). Without `environ`: as for an environment without
    MHBENCH_DAGSTER_PG (SQLite). Tests and benchmarks write a fresh one into homes of their own
    with `render_dagster_yaml(dagster_home)`."""
    owned = _owned(current or {}, environ or {}, dagster_home)
    return _HEADER + yaml.safe_dump(owned, sort_keys=False)


class DagsterYamlError(Exception):
    """dagster.yaml cannot be read as a mapping, or its settings contradict the environment
    (MHBENCH_DAGSTER_PG beside per-kind storage sections): it is left untouched."""


def update_dagster_yaml(config: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Bring the platform's sections of `config` up to date; whether the file changed.

    With MHBENCH_DAGSTER_PG set (in `environ`, default os.environ) its storage becomes
    PostgreSQL; without it the storage section is left as it is (a home already moved to
    PostgreSQL is not moved back by a process that lacks the variable:
    `check_instance_storage` says so instead)."""
    environ = os.environ if environ is None else environ
    dagster_home = config.parent.resolve()
    current: dict = {}
    if config.exists():
        text = config.read_text(encoding="utf-8")
        try:
            current = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DagsterYamlError(f"{config} is not valid YAML: {exc}") from exc
        if not isinstance(current, dict):
            raise DagsterYamlError(f"{config} should hold a mapping of settings")
        if _owned(current, environ, dagster_home) == current:
            return False
    mode = config.stat().st_mode & 0o777 if config.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=config.parent, prefix=".dagster.yaml.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_dagster_yaml(dagster_home, current, environ))
    os.chmod(tmp, mode)
    os.replace(tmp, config)
    return True


def ensure_dagster_home(home: Home) -> Path:
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home.root / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    update_dagster_yaml(dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


# Taken by the process that creates the instance's storage; the marker says it is made.
_CREATE_LOCK = ".instance-create.lock"


def open_instance():
    """The Dagster instance of $DAGSTER_HOME (`DagsterInstance.get()`), its storage created by
    one process at a time: two processes opening a new home's SQLite instance at once would
    both create its tables, and alembic fails the second ("more than one head present")."""
    import fcntl

    from dagster import DagsterInstance

    dagster_home = Path(os.environ["DAGSTER_HOME"])
    kind = "postgres" if os.environ.get(PG_ENV) else "sqlite"
    marker = dagster_home / f".instance-created-{kind}"
    if marker.exists():
        return DagsterInstance.get()
    dagster_home.mkdir(parents=True, exist_ok=True)
    with (dagster_home / _CREATE_LOCK).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released as the file closes
        instance = DagsterInstance.get()
        marker.touch()
    return instance


def prepare_instance() -> None:
    """`configure_environment()`, and the instance's storage created (before `dagster dev`,
    whose processes would otherwise create it beside a `mhbench run` started meanwhile)."""
    configure_environment()
    open_instance().dispose()


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


class InstanceStorageError(Exception):
    """The instance's storage cannot be used: PostgreSQL unreachable, or not configured here."""


def pg_address(url: str) -> PgAddress:
    """Host, port and database of a PostgreSQL URL (never its password)."""
    parts = urlsplit(url)
    if parts.scheme != PG_SCHEME:
        why = (
            " (SQLAlchemy 2.1 reads postgresql:// as the psycopg 3 driver; dagster-postgres "
            "installs psycopg2)"
            if parts.scheme in ("postgresql", "postgres")
            else ""
        )
        raise InstanceStorageError(
            f"{PG_ENV} should be a URL like {PG_SCHEME}://user:password@host:5432/dagster; "
            f"it starts with {parts.scheme or 'no scheme'}://{why}"
        )
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise InstanceStorageError(f"{PG_ENV} has an invalid port: {exc}") from None
    return PgAddress(parts.hostname or "localhost", port, unquote(parts.path.lstrip("/")) or "?")


def _uses_pg_env(config: Path) -> bool:
    try:
        settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(settings, dict) and settings.get("storage") == PG_STORAGE


def check_instance_storage(
    dagster_home: Path, environ: Mapping[str, str] | None = None, timeout: float = 5.0
) -> PgAddress | None:
    """Before opening the instance: PostgreSQL's address when it is the storage (None for
    SQLite), or InstanceStorageError with a message for a person, naming host and port."""
    environ = os.environ if environ is None else environ
    url = environ.get(PG_ENV)
    if not url:
        if _uses_pg_env(dagster_home / "dagster.yaml"):
            raise InstanceStorageError(
                f"{dagster_home / 'dagster.yaml'} keeps the Dagster instance in PostgreSQL, "
                f"whose URL is read from {PG_ENV}, and {PG_ENV} is not set here. Set it (as for "
                "the daemon and the webservers), or delete the storage section of that file to "
                "go back to SQLite (the runs recorded in PostgreSQL stay there)."
            )
        return None
    address = pg_address(url)
    import psycopg2

    try:
        libpq_url = "postgresql" + url[len(PG_SCHEME) :]  # libpq knows no driver names
        psycopg2.connect(libpq_url, connect_timeout=max(1, round(timeout))).close()
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.split(" failed: ", 1)[-1]
        raise InstanceStorageError(
            f"Cannot reach the Dagster instance's PostgreSQL at {address} (from {PG_ENV}): "
            f"{reason}. Is the server running and accepting TCP connections on that host "
            "and port?"
        ) from None
    return address
