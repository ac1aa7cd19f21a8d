"""How to open the build warehouse: one DuckDB file (default) or DuckLake, by configuration.

    MHBENCH_WAREHOUSE=file        $MHBENCH_HOME/warehouse/build.duckdb, one writer at a time
    MHBENCH_WAREHOUSE=ducklake    a DuckLake: its catalog in PostgreSQL (MHBENCH_LAKE_CATALOG,
                                  a libpq URL or key=value string), its Parquet data files under
                                  $MHBENCH_HOME/lake/; several processes may write at once

Every stage opens the warehouse through `connect_warehouse(path)`, where `path` is
`Home.warehouse` (on DuckLake its home is the folder above `warehouse/`), and asks
`warehouse_exists(path)` before it reads one that may not have been made yet. A connection to the lake has it attached as
`lake` and in use, so the stages' SQL (`raw.submissions`, `marts.*`) is the same on both.

DuckLake runs on duckdb 1.5.5 (.venv-lake, `make setup-lake`): its ducklake and postgres
extensions come from PyPI wheels (duckdb-extension-ducklake, duckdb-extension-postgres) and
are installed from the wheel's file into $MHBENCH_HOME/warehouse/duckdb-extensions, never
downloaded. Releases stay DuckDB files: only the build warehouse is a lake.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.postgres import PgAddress

if TYPE_CHECKING:
    import duckdb

KIND_ENV = "MHBENCH_WAREHOUSE"
CATALOG_ENV = "MHBENCH_LAKE_CATALOG"
FILE, DUCKLAKE = "file", "ducklake"
KINDS = (FILE, DUCKLAKE)
LAKE_ALIAS = "lake"  # the attached lake's catalog name (dbt's `database` on the lake target)
EXTENSIONS = {"ducklake": "ducklake", "postgres": "postgres_scanner"}  # wheel name: loaded name
# Two processes attaching a new catalog at once: one creates DuckLake's tables, the other
# can fail on them half made (duplicate key / already exists); it tries again.
_ATTACH_ATTEMPTS = 5
_CREATE_RACE = re.compile(r"duplicate key|already exists|could not serialize", re.IGNORECASE)


class WarehouseError(Exception):
    """The warehouse cannot be opened as configured: a bad setting, the lake's extensions
    missing from this environment, or the catalog's PostgreSQL unreachable. Its message is
    for a person; the CLI prints it without a traceback."""


def kind(environ: Mapping[str, str] | None = None) -> str:
    """`file` or `ducklake`, from MHBENCH_WAREHOUSE (default `file`)."""
    environ = os.environ if environ is None else environ
    value = (environ.get(KIND_ENV) or FILE).strip().lower()
    if value not in KINDS:
        raise WarehouseError(
            f"{KIND_ENV} is {environ.get(KIND_ENV)!r}; it should be {FILE} (one DuckDB file, "
            f"the default) or {DUCKLAKE} (a DuckLake, its catalog in PostgreSQL: {CATALOG_ENV})"
        )
    return value


def is_lake(environ: Mapping[str, str] | None = None) -> bool:
    return kind(environ) == DUCKLAKE


def catalog(environ: Mapping[str, str] | None = None) -> str:
    """The lake's catalog connection string (MHBENCH_LAKE_CATALOG), checked for its form."""
    environ = os.environ if environ is None else environ
    value = (environ.get(CATALOG_ENV) or "").strip()
    if not value:
        raise WarehouseError(
            f"{KIND_ENV}={DUCKLAKE} needs {CATALOG_ENV}, the PostgreSQL database of the lake's "
            "catalog, e.g. postgresql://user:password@host:5432/mhbench_lake"
        )
    if value.startswith("postgresql+"):
        raise WarehouseError(
            f"{CATALOG_ENV} is read by libpq, which knows no driver names: write "
            f"postgresql://... (not {value.split('://', 1)[0]}://...)"
        )
    catalog_address(value)
    return value


def catalog_address(dsn: str) -> PgAddress:
    """Host, port and database of the catalog (never its password)."""
    import psycopg2.extensions

    try:
        parts = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError as exc:
        raise WarehouseError(
            f"{CATALOG_ENV} is neither a postgresql:// URL nor a libpq key=value string: "
            f"{str(exc).strip()}"
        ) from None
    try:
        port = int(parts.get("port") or 5432)
    except ValueError:
        raise WarehouseError(f"{CATALOG_ENV} has an invalid port: {parts.get('port')}") from None
    return PgAddress(
        parts.get("host") or parts.get("hostaddr") or "localhost",
        port,
        parts.get("dbname") or parts.get("user") or "?",
    )


def lake_data_path(home_root: Path) -> Path:
    """Where the lake's Parquet files go (with a trailing slash in ATTACH's DATA_PATH)."""
    return Path(home_root) / "lake"


def extension_directory(home_root: Path) -> Path:
    return Path(home_root) / "warehouse" / "duckdb-extensions"


def _home_root(path: Path) -> Path:
    return Path(path).resolve().parent.parent  # <home>/warehouse/build.duckdb


def check(path: Path, environ: Mapping[str, str] | None = None, timeout: float = 5.0):
    """Before a command starts work: the catalog's address when the warehouse is a lake and
    its PostgreSQL answers (None for the file warehouse); WarehouseError otherwise, naming
    host and port."""
    environ = os.environ if environ is None else environ
    if not is_lake(environ):
        return None
    dsn = catalog(environ)
    _ping(dsn, timeout)
    _extension_files()  # this environment can open a lake at all
    return catalog_address(dsn)


def _ping(dsn: str, timeout: float = 5.0) -> None:
    _connect_catalog(dsn, timeout).close()


def _connect_catalog(dsn: str, timeout: float = 5.0):
    """A psycopg2 connection to the catalog's server, or WarehouseError naming it."""
    import psycopg2

    try:
        return psycopg2.connect(dsn, connect_timeout=max(1, round(timeout)))
    except psycopg2.Error as exc:
        raise WarehouseError(_unreachable(dsn, exc)) from None


def _unreachable(dsn: str, exc: BaseException) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = reason.split(" failed: ", 1)[-1]
    return (
        f"Cannot reach the DuckLake catalog's PostgreSQL at {catalog_address(dsn)} (from "
        f"{CATALOG_ENV}): {reason}. Is the server running and accepting TCP connections on "
        "that host and port?"
    )


def warehouse_exists(path: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the warehouse has been made: the file, or the lake's catalog tables."""
    environ = os.environ if environ is None else environ
    if not is_lake(environ):
        return Path(path).exists()
    con = _connect_catalog(catalog(environ))
    try:
        with con.cursor() as cur:
            cur.execute("select to_regclass('ducklake_metadata') is not null")
            return bool(cur.fetchone()[0])
    finally:
        con.close()


def connect_warehouse(
    path: Path, read_only: bool = False, environ: Mapping[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse at `path` (Home.warehouse): that DuckDB file, or the lake of its home
    attached as `lake` and in use.

    Errors of the file are DuckDB's own (a lock is an IOException, as before); the lake's
    configuration and its catalog's server are WarehouseError."""
    import duckdb

    environ = os.environ if environ is None else environ
    if not is_lake(environ):
        return duckdb.connect(str(path), read_only=read_only)
    con = duckdb.connect(":memory:", config=_offline_config(_home_root(path)))
    try:
        attach_warehouse(con, path, LAKE_ALIAS, read_only=read_only, environ=environ)
        con.execute(f"USE {LAKE_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def attach_warehouse(
    con,
    path: Path,
    alias: str,
    read_only: bool = True,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Attach the warehouse at `path` to `con` as `alias` (publishing copies the marts from
    it into a release database this way)."""
    environ = os.environ if environ is None else environ
    if not is_lake(environ):
        con.execute(
            f"ATTACH '{_sql_text(str(path))}' AS {alias}" + (" (READ_ONLY)" if read_only else "")
        )
        return
    root = _home_root(path)
    for key, value in _offline_config(root).items():
        con.execute(f"SET {key} = '{_sql_text(str(value))}'")
    _attach_lake(con, root, catalog(environ), alias, read_only)


def _offline_config(root: Path) -> dict:
    ext_dir = extension_directory(root)
    ext_dir.mkdir(parents=True, exist_ok=True)
    return {
        # no network: the extensions are installed from the wheels' files, into the home
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "extension_directory": str(ext_dir),
        # DuckDB wants a home folder even so (a service account may have no $HOME)
        "home_directory": str(ext_dir),
    }


def _extension_files() -> dict[str, Path]:
    """The extension files the PyPI wheels ship for this duckdb, by name."""
    import duckdb

    found = {}
    for name in EXTENSIONS:
        spec = importlib.util.find_spec(f"duckdb_extension_{name}")
        folder = (
            Path(next(iter(spec.submodule_search_locations)))
            / "extensions"
            / f"v{duckdb.__version__}"
            if spec and spec.submodule_search_locations
            else None
        )
        file = folder / f"{name}.duckdb_extension" if folder else None
        if file is None or not file.exists():
            raise WarehouseError(
                f"{KIND_ENV}={DUCKLAKE} needs DuckDB's {name} extension for duckdb "
                f"{duckdb.__version__}, from the PyPI package duckdb-extension-{name}, and this "
                "environment has none: run the lake from .venv-lake (`make setup-lake`, duckdb "
                "1.5.5, the only version those packages exist for)"
            )
        found[name] = file
    return found


def _attach_lake(con, root: Path, dsn: str, alias: str, read_only: bool) -> None:
    import duckdb

    files = _extension_files()
    data_path = lake_data_path(root)
    data_path.mkdir(parents=True, exist_ok=True)
    # Installed once per home; two processes opening a new lake at once take turns, or one
    # would LOAD the file the other is still writing ("not found").
    with _file_lock(extension_directory(root) / ".install.lock"):
        installed = {
            name
            for (name,) in con.execute(
                "select extension_name from duckdb_extensions() where installed"
            ).fetchall()
        }
        for name, loaded_as in EXTENSIONS.items():
            if loaded_as not in installed:
                con.execute(f"INSTALL '{_sql_text(str(files[name]))}'")
    for loaded_as in EXTENSIONS.values():
        con.execute(f"LOAD {loaded_as}")
    options = f"DATA_PATH '{_sql_text(str(data_path))}/'" + (", READ_ONLY" if read_only else "")
    attach = f"ATTACH 'ducklake:postgres:{_sql_text(dsn)}' AS {alias} ({options})"
    for attempt in range(_ATTACH_ATTEMPTS):
        try:
            con.execute(attach)
            return
        except duckdb.Error as exc:
            if _CREATE_RACE.search(str(exc)) and attempt < _ATTACH_ATTEMPTS - 1:
                time.sleep(0.2 * (attempt + 1))
                continue
            if "connect" in str(exc).lower():
                raise WarehouseError(_unreachable(dsn, exc)) from None
            raise


@contextmanager
def _file_lock(path: Path):
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def is_lake_connection(con) -> bool:
    """Whether `con` writes to a DuckLake (which has no PRIMARY KEY / UNIQUE constraints)."""
    row = con.execute(
        "select type from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return bool(row) and row[0] == DUCKLAKE


def retry_lake_conflicts(con, work, attempts: int = 5):
    """`work()`, tried again on DuckLake when its commit meets a concurrent one (two runs
    creating the raw tables of a new lake at once: the second's CREATE conflicts with the
    first's, and on the next try the tables exist). On the file warehouse just `work()`."""
    import duckdb

    for attempt in range(attempts):
        try:
            return work()
        except duckdb.Error as exc:
            # the conflict may be the context of the rollback after the failed commit
            said = f"{exc} {exc.__context__ or ''}".lower()
            if attempt == attempts - 1 or "conflict" not in said or not is_lake_connection(con):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def table_ddl(con, sql: str) -> str:
    """CREATE TABLE statements for this connection's warehouse: on DuckLake without PRIMARY
    KEY, which it does not support (the registry keeps ids unique itself: a file's bytes are
    registered once, and one run at a time ingests a partition)."""
    return re.sub(r"\s+PRIMARY KEY\b", "", sql) if is_lake_connection(con) else sql


# The advisory locks of ingestion on the lake: (namespace, hashtext(partition key)).
_LOCK_NAMESPACE = 18_003


@contextmanager
def partition_locks(keys: Iterable[str], environ: Mapping[str, str] | None = None):
    """While ingesting `keys` (partition keys such as `2024|SE`): on DuckLake, one PostgreSQL
    advisory lock per key on the catalog's server, taken in sorted order, so two runs of one
    partition (which could register the same file twice: the lake has no PRIMARY KEY) take
    turns while runs of different partitions write at once. The session's end releases them,
    also when the process dies. On the file warehouse nothing: the duckdb_writer pool lets one
    step write at a time."""
    environ = os.environ if environ is None else environ
    if not is_lake(environ):
        yield
        return
    con = _connect_catalog(catalog(environ))
    try:
        con.autocommit = True
        with con.cursor() as cur:
            for key in sorted(set(keys)):
                cur.execute("select pg_advisory_lock(%s, hashtext(%s))", [_LOCK_NAMESPACE, key])
        yield
    finally:
        con.close()
