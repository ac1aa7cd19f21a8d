"""The cold cycle and the deadline rush on each deployment, in one run, as ratios.

    .venv/bin/python scripts/bench_pg.py --runs 2 [--no-rush] [--files 10]

Starts a throwaway PostgreSQL (scripts/pg_server.py; initdb and start timed), then, for each
repetition, runs the cases of `make bench` (scripts/bench_cases.py `sample` and `rush`) on
each deployment in turn, so all three see the same load on this shared machine:

- `sqlite+file`: the embedded default (Dagster's SQLite instance, the DuckDB file), `.venv`;
- `postgres+file`: the instance on PostgreSQL (MHBENCH_DAGSTER_PG), the DuckDB file, `.venv`;
- `postgres+ducklake`: the instance on PostgreSQL and the warehouse as DuckLake, its catalog
  on the same server (MHBENCH_WAREHOUSE=ducklake, MHBENCH_LAKE_CATALOG), `.venv-lake`
  (`make setup-lake`).

Every case gets databases of its own. Prints the medians and their ratios to `sqlite+file`;
writes bench-results/bench_pg.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_measure import load_1min  # noqa: E402
from scripts.pg_server import PgServer  # noqa: E402

BASELINE = "sqlite+file"
CASE_TIMEOUT_S = 3600
console = Console()


def _deployments(server: PgServer, case: str) -> dict[str, tuple[Path, dict[str, str]]]:
    """Deployment -> (its python, its environment), with new databases for `case`."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MHBENCH_DAGSTER_PG", "MHBENCH_WAREHOUSE", "MHBENCH_LAKE_CATALOG")
    }
    dagster, lake = f"dagster_{case}", f"lake_{case}"
    server.create_database(dagster)
    server.create_database(lake)
    on_pg = {**base, "MHBENCH_DAGSTER_PG": server.dagster_url(dagster)}
    return {
        BASELINE: (REPO / ".venv" / "bin" / "python", base),
        "postgres+file": (REPO / ".venv" / "bin" / "python", on_pg),
        "postgres+ducklake": (
            REPO / ".venv-lake" / "bin" / "python",
            {**on_pg, "MHBENCH_WAREHOUSE": "ducklake", "MHBENCH_LAKE_CATALOG": server.url(lake)},
        ),
    }


def _case(python: Path, env: dict[str, str], *args: str) -> dict:
    """One case of scripts/bench_cases.py under `python`; its JSON."""
    completed = subprocess.run(
        [str(python), str(REPO / "scripts" / "bench_cases.py"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"bench_cases {' '.join(args)} with {python} failed:\n"
            f"{completed.stdout[-4000:]}{completed.stderr[-4000:]}"
        )
    return json.loads(completed.stdout)


def main(
    runs: int = typer.Option(1, help="Repetitions of every case on every deployment."),
    rush: bool = typer.Option(True, help="The deadline rush too (a few minutes each)."),
    files: int = typer.Option(10, help="Files dropped at once in the rush."),
) -> None:
    if not (REPO / ".venv-lake" / "bin" / "python").exists():
        console.print("[red].venv-lake is missing: run `make setup-lake` first[/]")
        raise typer.Exit(2)
    server = PgServer.create()
    server.start()
    console.print(
        f"PostgreSQL: initdb {server.init_seconds:.1f} s, start {server.start_seconds:.2f} s"
    )
    results: dict[str, dict[str, list[dict]]] = {}
    try:
        for i in range(runs):
            for case in ("sample", "rush") if rush else ("sample",):
                args = [case] if case == "sample" else [case, "--files", str(files)]
                for name, (python, env) in _deployments(server, f"{case}{i}").items():
                    started_load = load_1min()
                    started = time.perf_counter()
                    result = _case(python, env, *args)
                    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
                    result["bench_load_1min"] = started_load
                    results.setdefault(case, {}).setdefault(name, []).append(result)
                    figure = result["wall_s"] if case == "sample" else result["rush_s"]
                    console.print(
                        f"run {i + 1}/{runs} {case} on {name}: {figure:.1f} s "
                        f"(load {started_load:.1f})"
                    )
    finally:
        server.remove()
    summary = _summary(results)
    _print(summary)
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench_pg.json").write_text(
        json.dumps(
            {
                "pg_initdb_s": server.init_seconds,
                "pg_start_s": server.start_seconds,
                "summary": summary,
                "cases": results,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"written: {out / 'bench_pg.json'}")


def _summary(results: dict[str, dict[str, list[dict]]]) -> dict:
    figures = {"sample": "wall_s", "rush": "rush_s"}
    summary = {}
    for case, by_deployment in results.items():
        medians = {
            name: statistics.median(r[figures[case]] for r in rows)
            for name, rows in by_deployment.items()
        }
        loads = [r["bench_load_1min"] for rows in by_deployment.values() for r in rows]
        summary[case] = {
            "median_s": medians,
            "ratio_to_" + BASELINE: {
                n: round(m / medians[BASELINE], 2) for n, m in medians.items()
            },
            "load_1min": [min(loads), max(loads)],
        }
        if case == "rush":
            summary[case]["one_file_median_s"] = {
                name: statistics.median(r["one_file_s"] for r in rows)
                for name, rows in by_deployment.items()
            }
            summary[case]["rush_runs"] = {
                name: [r["rush_runs"] for r in rows] for name, rows in by_deployment.items()
            }
    return summary


def _print(summary: dict) -> None:
    table = Table(title="deployments, medians (ratio to sqlite+file)")
    table.add_column("case")
    names = list(next(iter(summary.values()))["median_s"])
    for name in names:
        table.add_column(name)
    table.add_column("load")
    labels = {"sample": "cold cycle (sample, run --draft)", "rush": "rush (files at once)"}
    for case, figures in summary.items():
        ratios = figures["ratio_to_" + BASELINE]
        table.add_row(
            labels[case],
            *(f"{figures['median_s'][n]:.1f} s ({ratios[n]:.2f} x)" for n in names),
            "{:.1f}-{:.1f}".format(*figures["load_1min"]),
        )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
