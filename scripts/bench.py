"""`make bench`: time the annual cycle on the sample and the import floor.

For each of --runs repetitions: a fresh MHBENCH_HOME, the sample written, then
`mhbench run` timed as a subprocess (wall time; peak RSS of the largest process,
dbt's subprocess included), then `mhbench validate` on one sample return. The floor
is a bare `python -c "import dagster, dagster_dbt, great_expectations"`; the code
location load is `import orchestration.definitions` (what the UI and every run pay). Medians are printed and written to
bench-results/bench.json.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
console = Console()


def _dbt_env(env: dict[str, str]) -> dict[str, str]:
    return dict(
        env, DBT_PROFILES_DIR=str(REPO / "dbt_project"), DBT_PROJECT_DIR=str(REPO / "dbt_project")
    )


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the largest process of the command tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    completed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        console.print(completed.stdout[-3000:], completed.stderr[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {completed.returncode}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main(runs: int = typer.Option(3, help="Repetitions (the median is reported).")) -> None:
    results: dict[str, dict] = {}
    floor = [
        _timed(
            [sys.executable, "-c", "import dagster, dagster_dbt, great_expectations"],
            dict(os.environ),
        )
        for _ in range(runs)
    ]
    results["import_floor"] = {"wall_s": [w for w, _ in floor]}

    cycle, validate = [], []
    mhbench = str(Path(sys.executable).with_name("mhbench"))
    # One home path, emptied before each run, as a deployment has one: dbt keeps its
    # partial-parse state only while the profile (which names the warehouse) is unchanged.
    # (a deployment's `dbt parse` at install time is for its own home: prime it for this one)
    home = Path(tempfile.mkdtemp(prefix="mhbench-bench-")) / "home"
    env = dict(os.environ, MHBENCH_HOME=str(home))
    env.pop("DAGSTER_HOME", None)
    _timed([str(Path(sys.executable).with_name("dbt")), "parse", "--quiet"], _dbt_env(env))
    for i in range(runs):
        shutil.rmtree(home, ignore_errors=True)
        _timed([mhbench, "sample"], env)
        wall, peak = _timed([mhbench, "run"], env)
        console.print(f"run {i + 1}/{runs}: {wall:.1f} s, peak RSS {peak:.0f} MiB")
        cycle.append((wall, peak))
        # what a submitter waits for, interpreter start included
        sample_return = next((home / "inbox" / "2024").glob("*.xlsx"))
        validate.append(_timed([mhbench, "validate", str(sample_return)], env)[0])
    shutil.rmtree(home.parent, ignore_errors=True)
    results["annual_cycle"] = {
        "wall_s": [w for w, _ in cycle],
        "peak_rss_mib": [p for _, p in cycle],
    }
    results["validate_one_return"] = {"wall_s": validate}
    # what the UI and every run pay to load the code location
    results["code_location_load"] = {
        "wall_s": [
            _timed([sys.executable, "-c", "import orchestration.definitions"], dict(os.environ))[0]
            for _ in range(runs)
        ]
    }

    table = Table("measure", "median", "runs")
    for name, data in results.items():
        walls = data["wall_s"]
        data["median_wall_s"] = statistics.median(walls)
        table.add_row(
            f"{name} wall (s)", f"{data['median_wall_s']:.2f}", ", ".join(f"{w:.2f}" for w in walls)
        )
        if "peak_rss_mib" in data:
            data["median_peak_rss_mib"] = statistics.median(data["peak_rss_mib"])
            table.add_row(f"{name} peak RSS (MiB)", f"{data['median_peak_rss_mib']:.0f}", "")
    console.print(table)
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
