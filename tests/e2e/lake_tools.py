"""What the DuckLake tests run with .venv-lake's python (duckdb 1.5.5 and the lake's
extensions), since the tests' own environment (duckdb 2.0.1) cannot load them:

    python -m tests.e2e.lake_tools init SE NO            the Dagster instance and participants
    python -m tests.e2e.lake_tools ingest 2024|SE        one ingestion run of that partition
    python -m tests.e2e.lake_tools export-marts DIR      every table of marts and raw -> Parquet

Both read MHBENCH_HOME, DAGSTER_HOME, MHBENCH_WAREHOUSE and MHBENCH_LAKE_CATALOG, and print
one line of JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def init(participants: list[str]) -> dict:
    """Make the Dagster instance's tables and the participants' partitions, once, before the
    runs (two processes creating an instance's tables at once race in Dagster itself)."""
    import dagster as dg

    from orchestration.defs.partitions import PARTICIPANTS
    from orchestration.instance import configure_environment

    configure_environment()
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(PARTICIPANTS.name, participants)
    return {"participants": instance.get_dynamic_partitions(PARTICIPANTS.name)}


def ingest(key: str) -> dict:
    """Materialize the ingestion assets of one partition, as the inbox sensor's run would."""
    import dagster as dg

    from orchestration.instance import configure_environment

    home = configure_environment()
    from orchestration.defs.ingestion import ingest_returns
    from orchestration.defs.resources import HomeResource

    instance = dg.DagsterInstance.get()
    result = dg.materialize(
        [ingest_returns],
        partition_key=key,
        instance=instance,
        resources={"home": HomeResource(root=str(home.root))},
        tags={"mhbench/test": "lake-ingest"},
        raise_on_error=False,
    )
    record = instance.get_run_record_by_id(result.run_id)
    return {
        "run_id": result.run_id,
        "success": result.success,
        "status": record.dagster_run.status.value,
        "start": record.start_time,
        "end": record.end_time,
        "pool": ingest_returns.op.pool,
    }


def export_marts(folder: Path) -> dict:
    from orchestration.instance import configure_environment
    from runtime.warehouse import connect_warehouse

    home = configure_environment()
    folder.mkdir(parents=True, exist_ok=True)
    exported = {}
    with connect_warehouse(home.warehouse, read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name in ('marts', 'raw') "
            "order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            target = folder / f"{schema}.{table}.parquet"
            con.execute(f"copy (select * from {schema}.{table}) to '{target}' (format parquet)")
            exported[f"{schema}.{table}"] = str(target)
    return exported


def main(argv: list[str]) -> int:
    if len(argv) > 2 and argv[1] == "init":
        print(json.dumps(init(argv[2:])))
        return 0
    if len(argv) == 3 and argv[1] == "ingest":
        print(json.dumps(ingest(argv[2])))
        return 0
    if len(argv) == 3 and argv[1] == "export-marts":
        print(json.dumps(export_marts(Path(argv[2]))))
        return 0
    print(f"usage: {argv[0]} init PARTICIPANT... | ingest KEY | export-marts DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
