"""The sample release opened by older DuckDB clients, as an analyst with a pinned R or Python
environment, DBeaver or a BI connector would: `mhbench.duckdb` is written in the v1.4.0
storage format, so DuckDB 1.4 and 1.5 read it, although the pipeline runs duckdb 2.x.

Each client is the real duckdb wheel of that exact version, in a venv of its own made by
`make setup` (`.venv-clients/duckdb-<version>/`, from the Makefile's OLD_DUCKDB_VERSIONS).
It opens the release read-only in its own process and reads every mart; what it reads must
be what the pipeline's duckdb reads, row for row.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

CLIENTS = REPO / ".venv-clients"
OLD_DUCKDB_VERSIONS = ("1.4.0", "1.5.5")

# Runs inside the old client: every mart of the manifest, every row, as JSON.
READ_EVERY_MART = """
import json, sys
import duckdb
database, marts = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect(database, read_only=True)
out = {"version": duckdb.__version__, "marts": {}}
for mart in marts:
    rows = con.execute(f"select * from marts.{mart} order by all").fetchall()
    out["marts"][mart] = json.loads(json.dumps(rows, default=str))
print(json.dumps(out))
"""


def client_python(version: str) -> Path:
    python = CLIENTS / f"duckdb-{version}" / "bin" / "python"
    if python.exists():
        return python
    reason = f"{python} is missing: `make setup` installs the old DuckDB clients"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def read_with_current_duckdb(database: Path, marts: list[str]) -> dict:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return {
            mart: json.loads(
                json.dumps(
                    con.execute(f"select * from marts.{mart} order by all").fetchall(), default=str
                )
            )
            for mart in marts
        }


@pytest.mark.e2e
@pytest.mark.parametrize("version", OLD_DUCKDB_VERSIONS)
def test_an_older_duckdb_opens_the_release_and_reads_every_mart(cycle, version):
    python = client_python(version)
    release = cycle.home / "releases" / "current"
    manifest = json.loads((release / "manifest.json").read_text())
    marts = sorted(manifest["marts"])
    assert "fct_indicator_values" in marts and "mart_benchmark" in marts
    completed = subprocess.run(
        [str(python), "-c", READ_EVERY_MART, str(release / "mhbench.duckdb"), json.dumps(marts)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    seen = json.loads(completed.stdout)
    assert seen["version"] == version
    for mart in marts:
        assert len(seen["marts"][mart]) == manifest["marts"][mart], mart
    assert seen["marts"] == read_with_current_duckdb(release / "mhbench.duckdb", marts)


@pytest.mark.e2e
def test_the_oldest_client_refuses_a_file_in_the_newest_format(tmp_path):
    """The reason for the explicit storage version: without it, duckdb 2.x writes a file that
    DuckDB 1.x cannot open. If this ever passes without the version, the pin can go."""
    import duckdb

    python = client_python(OLD_DUCKDB_VERSIONS[0])
    path = tmp_path / "default-format.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select 1 as x")
    completed = subprocess.run(
        [str(python), "-c", f"import duckdb; duckdb.connect({str(path)!r}, read_only=True)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode != 0
    assert "version" in completed.stderr.lower()
