"""Which warehouse a process opens (runtime/warehouse.py): the DuckDB file by default, a
DuckLake by configuration, and clear errors for a bad setting or a catalog that is down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.resources import DUCKDB_WRITER_POOL, ingestion_pool
from runtime import warehouse as wh
from scripts.pg_server import free_port

LAKE = {wh.KIND_ENV: "ducklake", wh.CATALOG_ENV: "postgresql://u@127.0.0.1:5432/lake"}


def test_the_default_is_the_file_and_it_opens_as_before(tmp_path):
    path = tmp_path / "warehouse" / "build.duckdb"
    path.parent.mkdir()
    assert wh.kind({}) == "file" and not wh.is_lake({})
    assert not wh.warehouse_exists(path, environ={})
    with wh.connect_warehouse(path, environ={}) as con:
        con.execute(wh.table_ddl(con, "create table t (id varchar primary key)"))
        con.execute("insert into t values ('a')")
        # the file keeps its constraints: a duplicate is refused, as on main
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into t values ('a')")
        assert not wh.is_lake_connection(con)
    assert wh.warehouse_exists(path, environ={})
    with wh.connect_warehouse(path, read_only=True, environ={}) as con:
        assert con.execute("select count(*) from t").fetchone()[0] == 1
    # and a second writer still meets the file's lock (why the pool stays on the file)
    holder = wh.connect_warehouse(path, environ={})
    try:
        other = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r})"],
            capture_output=True,
            text=True,
        )
        assert other.returncode != 0 and "lock" in other.stderr.lower()
    finally:
        holder.close()


def test_the_file_attaches_as_an_alias(tmp_path):
    path = tmp_path / "build.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create table marts.m as select 42 as x")
    with duckdb.connect() as con:
        wh.attach_warehouse(con, path, "build", read_only=True, environ={})
        assert con.execute("select x from build.marts.m").fetchone() == (42,)


@pytest.mark.parametrize("value", ["lake", "duckdb", "postgres"])
def test_an_unknown_kind_is_refused_naming_both(value):
    with pytest.raises(wh.WarehouseError, match="should be file .* or ducklake"):
        wh.kind({wh.KIND_ENV: value})


def test_the_kind_ignores_case_and_blank():
    assert wh.kind({wh.KIND_ENV: " DuckLake "}) == "ducklake"
    assert wh.kind({wh.KIND_ENV: ""}) == "file"


def test_the_lake_needs_its_catalog():
    with pytest.raises(wh.WarehouseError, match="needs MHBENCH_LAKE_CATALOG"):
        wh.catalog({wh.KIND_ENV: "ducklake"})


def test_a_sqlalchemy_url_is_refused_for_libpq():
    with pytest.raises(wh.WarehouseError, match="libpq"):
        wh.catalog({**LAKE, wh.CATALOG_ENV: "postgresql+psycopg2://u@h/lake"})


@pytest.mark.parametrize(
    ("dsn", "address"),
    [
        ("postgresql://lake:secret@db.example.org:6543/mhbench_lake", "db.example.org:6543"),
        (
            "host=db.example.org port=6543 dbname=mhbench_lake password=secret",
            "db.example.org:6543",
        ),
        ("postgresql:///mhbench_lake", "localhost:5432"),
    ],
)
def test_the_catalog_address_names_host_port_and_database_never_the_password(dsn, address):
    said = str(wh.catalog_address(dsn))
    assert said == f"{address}, database mhbench_lake"
    assert "secret" not in said


def test_a_malformed_catalog_string_is_a_clear_error():
    with pytest.raises(wh.WarehouseError, match="neither a postgresql:// URL"):
        wh.catalog({**LAKE, wh.CATALOG_ENV: "host=db port"})


def test_the_catalog_down_is_named_by_host_and_port(tmp_path):
    port = free_port()
    environ = {**LAKE, wh.CATALOG_ENV: f"postgresql://u:hunter2@127.0.0.1:{port}/lake"}
    path = tmp_path / "warehouse" / "build.duckdb"
    for call in (
        lambda: wh.check(path, environ=environ, timeout=2),
        lambda: wh.warehouse_exists(path, environ=environ),
    ):
        with pytest.raises(wh.WarehouseError) as caught:
            call()
        said = str(caught.value)
        assert f"127.0.0.1:{port}, database lake" in said and "MHBENCH_LAKE_CATALOG" in said
        assert "hunter2" not in said
    with pytest.raises(wh.WarehouseError), wh.partition_locks(["2024|SE"], environ=environ):
        pass


def test_this_environment_cannot_open_a_lake_and_says_where_to(tmp_path, monkeypatch):
    """The default environment has duckdb 2.0.1, for which no extension wheels exist."""
    if duckdb.__version__ == "1.5.5":
        pytest.skip("this is .venv-lake, which has them")
    with pytest.raises(wh.WarehouseError, match=r"\.venv-lake .*make setup-lake"):
        wh.connect_warehouse(tmp_path / "warehouse" / "build.duckdb", environ=LAKE)


def test_ingestion_leaves_the_writer_pool_only_on_the_lake(monkeypatch):
    monkeypatch.delenv(wh.KIND_ENV, raising=False)
    assert ingestion_pool() == DUCKDB_WRITER_POOL
    monkeypatch.setenv(wh.KIND_ENV, "ducklake")
    assert ingestion_pool() is None


def test_partition_locks_are_nothing_on_the_file():
    with wh.partition_locks(["2024|SE", "2024|SE"], environ={}):
        pass


def test_the_dbt_profile_has_a_lake_target_chosen_by_the_variable():
    import yaml

    profile = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml").read_text()
    )["mhbench"]
    lake = profile["outputs"]["ducklake"]
    assert lake["database"] == wh.LAKE_ALIAS == lake["attach"][0]["alias"]
    assert lake["attach"][0]["path"].startswith("ducklake:postgres:")
    assert lake["config_options"]["autoinstall_known_extensions"] is False
    assert lake["threads"] == 1
    # the target, rendered as dbt renders it (env_var with a default)
    import jinja2

    def target(environ: dict) -> str:
        return jinja2.Template(profile["target"]).render(
            env_var=lambda name, default=None: environ.get(name, default)
        )

    assert target({}) == "build" and target({wh.KIND_ENV: "file"}) == "build"
    assert target({wh.KIND_ENV: "ducklake"}) == target({wh.KIND_ENV: "DuckLake"}) == "ducklake"
