"""The warehouse as DuckLake (MHBENCH_WAREHOUSE=ducklake): its catalog in a real PostgreSQL
server, its data files under MHBENCH_HOME/lake/, run from .venv-lake (duckdb 1.5.5 and the
ducklake and postgres extensions from PyPI; `make setup-lake`).

One fixture for the module, on a slice of the sample (12 participants, 2023-2024: 24
returns): two ingestion runs of different partitions at the same time on a new lake (the
Dagster instance on the same server, as on more than one machine), then a draft cycle on the
lake, against the same returns through the single-writer DuckDB file
(the default environment's duckdb 2.0.1), run meanwhile.

Without PostgreSQL's binaries or .venv-lake these tests skip locally (saying how to get them)
and fail under CI.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from demo.sample_returns import generate_sample
from runtime.home import Home
from scripts.pg_server import INSTALL_HINT, PgServer, PostgresMissing, free_port
from tests.conftest import REPO, mhbench_env

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("ducklake")]

LAKE_PYTHON = REPO / ".venv-lake" / "bin" / "python"
YEARS = range(2023, 2025)
# Two partitions ingested at once; each run pauses this long after registering its file
# (runtime/pause.py), so that both are in flight together however their start-up varies.
PARTITIONS = ("2024|SE", "2024|NO")
PAUSE_SECONDS = 15
# quantile_cont and sums on duckdb 1.5.5 differ from 2.0.1's in the last bit or so
REL_TOL = 1e-12


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(reason: str) -> None:
    if _under_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def _lake_env(home: Path, catalog: str, instance: str | None = None) -> dict[str, str]:
    """The lake's environment; with `instance`, the Dagster instance on PostgreSQL too (as on
    more than one machine)."""
    return {
        **mhbench_env(home),
        "MHBENCH_WAREHOUSE": "ducklake",
        "MHBENCH_LAKE_CATALOG": catalog,
        **({"MHBENCH_DAGSTER_PG": instance} if instance else {}),
    }


def _lake(env: dict[str, str], *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [str(LAKE_PYTHON), "-m", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _finish(process: subprocess.Popen, what: str, timeout: float = 900) -> tuple[str, str]:
    """stdout (a JSON line for lake_tools) and stderr of a process that must succeed."""
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise AssertionError(f"{what} exited {process.returncode}:\n{out}\n{err[-6000:]}")
    return out, err


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    if not LAKE_PYTHON.exists():
        _missing(f"{LAKE_PYTHON} is missing (make setup-lake)")
    try:
        server = PgServer.create()
    except PostgresMissing as exc:
        _missing(f"{exc}; the pg tests need a real PostgreSQL server ({INSTALL_HINT})")
    root = tmp_path_factory.mktemp("ducklake")
    file_cycle = None
    try:
        server.start()
        catalog = server.create_database("lake_catalog")
        lake_home = Home(root / "lake-home").ensure()
        file_home = Home(root / "file-home").ensure()
        generate_sample(lake_home, seed=2024, years=YEARS)
        # the same files, with their mtimes (received_at), for the single-writer build
        shutil.rmtree(file_home.inbox)
        shutil.copytree(lake_home.inbox, file_home.inbox, copy_function=shutil.copy2)
        started = time.monotonic()
        file_cycle = subprocess.Popen(
            [sys.executable, "-m", "cli.app", "run", "--draft"],
            cwd=REPO,
            env=mhbench_env(file_home.root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server.create_database("dagster")
        env = _lake_env(lake_home.root, catalog, server.dagster_url("dagster"))
        participants = [key.split("|")[1] for key in PARTITIONS]
        _finish(_lake(env, "tests.e2e.lake_tools", "init", *participants), "init")
        paused = {**env, "MHBENCH_PAUSE_AT": "ingest-registered"}
        paused["MHBENCH_PAUSE_SECONDS"] = str(PAUSE_SECONDS)
        # both on a new lake: its catalog and raw tables are made by whichever comes first
        runs = [_lake(paused, "tests.e2e.lake_tools", "ingest", key) for key in PARTITIONS]
        finished = [
            _finish(run, f"ingest {key}") for run, key in zip(runs, PARTITIONS, strict=True)
        ]
        records = [json.loads(out) for out, _ in finished]
        outputs = [out + err for out, err in finished]
        ingest_seconds = time.monotonic() - started
        cycle, _ = _finish(_lake(env, "cli.app", "run", "--draft"), "mhbench run --draft (lake)")
        exported, _ = _finish(
            _lake(env, "tests.e2e.lake_tools", "export-marts", str(root / "export")),
            "export-marts",
        )
        exported = json.loads(exported)
        file_out, _ = file_cycle.communicate(timeout=900)
        assert file_cycle.returncode == 0, file_out
        print(
            f"ducklake module: two ingestion runs {ingest_seconds:.0f} s, "
            f"all {time.monotonic() - started:.0f} s"
        )
        yield {
            "server": server,
            "catalog": catalog,
            "lake_home": lake_home,
            "file_home": file_home,
            "records": records,
            "outputs": outputs,
            "cycle": cycle,
            "exported": {k: Path(v) for k, v in exported.items()},
        }
    finally:
        if file_cycle is not None and file_cycle.poll() is None:
            file_cycle.kill()
        server.remove()


@pytest.mark.pg
def test_two_ingestion_runs_of_different_partitions_write_the_lake_at_once(lake):
    first, second = lake["records"]
    assert first["success"] and second["success"], lake["outputs"]
    assert first["status"] == second["status"] == "SUCCESS"
    # on the lake ingestion holds no duckdb_writer slot (on the file it does)
    assert first["pool"] is None and second["pool"] is None
    # they ran at the same time: each started before the other ended
    assert first["start"] < second["end"] and second["start"] < first["end"], lake["records"]
    overlap = min(first["end"], second["end"]) - max(first["start"], second["start"])
    assert overlap > PAUSE_SECONDS / 2, lake["records"]
    for out in lake["outputs"]:
        assert "mhbench-paused ingest-registered" in out
        # DuckDB's file lock ("Could not set lock on file") or a DuckLake commit that lost
        assert "could not set lock" not in out.lower()
        assert "transaction conflict" not in out.lower()
        assert "error" not in out.lower(), out
    # each registered its file, once, in the lake's raw tables (Parquet under lake/)
    with duckdb.connect() as con:
        registered = con.execute(
            "select participant_code, collection_year, count(*) from read_parquet(?) "
            "group by all order by all",
            [str(lake["exported"]["raw.submissions"])],
        ).fetchall()
    assert ("SE", 2024, 1) in registered and ("NO", 2024, 1) in registered
    assert all(count == 1 for _, _, count in registered)
    assert len(registered) == 2 * 12  # the cycle after them ingested the other files
    assert list((lake["lake_home"].root / "lake" / "raw").glob("*/*.parquet"))
    assert not (lake["lake_home"].root / "warehouse" / "build.duckdb").exists()


@pytest.mark.pg
def test_runs_of_one_partition_take_turns_and_of_two_do_not(lake):
    """Ingestion's per-partition locks on the lake (runtime/warehouse.py: partition_locks),
    on the catalog's real server: the lock of 2024|SE held for 1.5 s by another session
    stops nobody on 2024|NO and holds up a run that ingests 2024|SE too."""
    import threading

    from runtime.warehouse import CATALOG_ENV, KIND_ENV, partition_locks

    environ = {KIND_ENV: "ducklake", CATALOG_ENV: lake["catalog"]}
    held = threading.Event()

    def hold() -> None:
        with partition_locks(["2024|SE"], environ=environ):
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    started = time.monotonic()
    with partition_locks(["2024|NO"], environ=environ):
        other = time.monotonic() - started
    with partition_locks(["2024|NO", "2024|SE"], environ=environ):
        same = time.monotonic() - started
    holder.join()
    assert other < 0.5 and same > 1.0, (other, same)


def _rows(con, sql: str, params=()) -> list[tuple]:
    return sorted(con.execute(sql, params).fetchall(), key=lambda row: repr(row))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL) or (
            math.isnan(a) and math.isnan(b)
        )
    return a == b


@pytest.mark.pg
def test_marts_on_the_lake_equal_a_single_writer_file_build(lake):
    file_db = lake["file_home"].warehouse
    marts = {k.split(".", 1)[1]: v for k, v in lake["exported"].items() if k.startswith("marts.")}
    with duckdb.connect() as con:
        con.execute(f"attach '{file_db}' as f (read_only)")
        names = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'f' and schema_name = 'marts'"
            ).fetchall()
        }
        assert names == set(marts) and len(names) > 10
        for name in sorted(names):
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where database_name = 'f' and schema_name = 'marts' and table_name = ?",
                [name],
            ).fetchall()
            # rows sorted on the columns that are not floating point, then compared in pairs
            floats = [f'"{c}"' for c, t in columns if t in ("DOUBLE", "FLOAT")]
            exact = [f'"{c}"' for c, t in columns if t not in ("DOUBLE", "FLOAT")]
            order = ", ".join(exact + floats)
            ours = con.execute(
                f"select * from read_parquet(?) order by {order}", [str(marts[name])]
            ).fetchall()
            theirs = con.execute(f"select * from f.marts.{name} order by {order}").fetchall()
            assert len(ours) == len(theirs) > 0, name
            for row_a, row_b in zip(ours, theirs, strict=True):
                assert all(_same(a, b) for a, b in zip(row_a, row_b, strict=True)), (
                    name,
                    row_a,
                    row_b,
                )


@pytest.mark.pg
def test_the_lake_publishes_the_same_immutable_release_folder(lake):
    lake_draft = next((lake["lake_home"].drafts).iterdir())
    file_draft = next((lake["file_home"].drafts).iterdir())

    def listing(folder: Path) -> set[str]:
        """Every file, with the release id and a GX validation page's run id and time left out
        of its path."""
        names = set()
        for path in folder.rglob("*"):
            if path.is_file():
                parts = path.relative_to(folder).parts
                if parts[:3] == ("docs", "gx", "validations"):
                    parts = (*parts[:4], parts[-1])
                names.add("/".join(parts).replace(folder.name, "<release>"))
        return names

    assert listing(lake_draft) == listing(file_draft)
    # a release stays a DuckDB file in the v1.4.0 format, which this duckdb 2.0.1 opens
    with duckdb.connect(str(lake_draft / "mhbench.duckdb"), read_only=True) as con:
        n = con.execute("select count(*) from marts.mart_benchmark").fetchone()[0]
    assert n > 0
    assert "Published a draft" in lake["cycle"]


def test_lake_catalog_down_is_a_clear_error_without_a_traceback(tmp_path):
    """No server needed: a port nothing listens on. The CLI's check runs in either venv."""
    port = free_port()
    env = _lake_env(tmp_path / "home", f"postgresql://mhbench:hunter2@127.0.0.1:{port}/lake")
    completed = subprocess.run(
        [sys.executable, "-m", "cli.app", "run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = completed.stdout + completed.stderr
    assert completed.returncode == 2, said
    assert f"127.0.0.1:{port}" in said and "database lake" in said
    assert "MHBENCH_LAKE_CATALOG" in said
    assert "Traceback" not in said and "hunter2" not in said


@pytest.mark.pg
def test_the_lake_backed_up_with_pg_dump_and_its_data_path_comes_back_whole(lake, tmp_path):
    """README's backup of a lake: the catalog's pg_dump and a copy of MHBENCH_HOME/lake/,
    then both lost and restored at the same place. Last in the module: it replaces the lake
    (with itself)."""
    import psycopg2

    server: PgServer = lake["server"]
    home: Home = lake["lake_home"]
    data = home.root / "lake"
    dump = tmp_path / "lake.dump"
    subprocess.run(
        [str(server.bin_dir / "pg_dump"), "--format=custom", f"--file={dump}", lake["catalog"]],
        check=True,
        capture_output=True,
    )
    shutil.copytree(data, tmp_path / "lake-copy")
    # lost: the catalog's database and the data files
    con = psycopg2.connect(server.url(), connect_timeout=10)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute('drop database "lake_catalog" with (force)')
    con.close()
    shutil.rmtree(data)
    # restored
    server.create_database("lake_catalog")
    subprocess.run(
        [str(server.bin_dir / "pg_restore"), "--no-owner", "-d", lake["catalog"], str(dump)],
        check=True,
        capture_output=True,
    )
    shutil.copytree(tmp_path / "lake-copy", data)
    env = _lake_env(home.root, lake["catalog"])
    out, _ = _finish(
        _lake(env, "tests.e2e.lake_tools", "export-marts", str(tmp_path / "export")),
        "export-marts after the restore",
    )
    restored = {k: Path(v) for k, v in json.loads(out).items()}
    assert set(restored) == set(lake["exported"])
    with duckdb.connect() as con:
        benchmark = str(restored["marts.mart_benchmark"])
        assert con.execute("select count(*) from read_parquet(?)", [benchmark]).fetchone()[0]
        for name, path in restored.items():
            before = str(lake["exported"][name])
            for a, b in ((before, str(path)), (str(path), before)):
                extra = con.execute(
                    "select count(*) from (select * from read_parquet(?) "
                    "except all select * from read_parquet(?))",
                    [a, b],
                ).fetchone()[0]
                assert extra == 0, name
