"""Time `dbt build` at scale: 50 participants x 10 years of synthetic returns.

scripts/synthetic_scale.py copies dbt_project/ to a temporary directory with synthetic
participants, population, ppp and collection_calendar seeds (5 peer groups), and fills the raw
tables of a temporary warehouse with one accepted submission per participant and year holding
every data item (the sample generator's consistent values, clean: no perturbation). Then
`dbt build --exclude test_type:unit` is timed twice: cold (fresh target directory, full parse)
and warm (partial parse).

    uv run --frozen python scripts/bench_dbt_scale.py [--participants 50] [--years 10]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_scale import prepare  # noqa: E402

console = Console()


def _dbt() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def timed_build(project: Path, env: dict[str, str]) -> tuple[float, float | None]:
    """Wall seconds of `dbt build --exclude test_type:unit`, and dbt's own execution time."""
    start = time.perf_counter()
    completed = subprocess.run(
        [_dbt(), "build", "--exclude", "test_type:unit", "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        console.print(completed.stdout[-5000:])
        raise SystemExit(f"dbt build failed with exit code {completed.returncode}")
    finished = re.search(r"Finished running .* in .*\(([\d.]+)s\)", completed.stdout)
    return wall, float(finished.group(1)) if finished else None


def main(
    participants: int = typer.Option(50, help="Synthetic participants."),
    years: int = typer.Option(10, help="Collection years (ending 2024)."),
    keep: bool = typer.Option(False, help="Keep the temporary directory (printed)."),
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mhbench-dbt-scale-"))
    try:
        scale = prepare(tmp, participants=participants, years=years)
        project, home = scale.project, scale.home
        console.print(
            f"{participants} participants x {years} years: "
            f"{scale.return_values:,} raw values in {tmp}"
        )
        env = dict(os.environ)
        env.update(
            MHBENCH_HOME=str(home),
            DBT_TARGET_PATH=str(tmp / "target"),
            DBT_LOG_PATH=str(tmp / "logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_VERSION_CHECK="false",
            DO_NOT_TRACK="1",
        )
        runs = {
            name: timed_build(project, env)
            for name in ("cold (full parse)", "warm (partial parse)")
        }
        with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
            counts = {
                name: con.execute(f"select count(*) from marts.{name}").fetchone()[0]
                for (name,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'marts' order by table_name"
                ).fetchall()
            }
        table = Table("dbt build --exclude test_type:unit", "wall (s)", "dbt execution (s)")
        for name, (wall, execution) in runs.items():
            table.add_row(name, f"{wall:.1f}", f"{execution:.1f}" if execution else "?")
        console.print(table)
        console.print(json.dumps(counts, indent=2))
    finally:
        if keep:
            console.print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    typer.run(main)
