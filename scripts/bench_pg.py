"""The annual cycle with the Dagster instance on SQLite against PostgreSQL, in one run.

`uv run python scripts/bench_pg.py --runs 2`: starts a throwaway PostgreSQL
(scripts/pg_server.py, its start timed), then for each repetition a cold cycle
(`mhbench sample` + `mhbench run` in a fresh home) on SQLite and on PostgreSQL,
alternating so both see the same load on this shared machine. Prints the medians and
the ratio PostgreSQL / SQLite; writes bench-results/bench_pg.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.pg_server import PgServer  # noqa: E402


def _cold_cycle(home: Path, extra: dict[str, str]) -> float:
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, MHBENCH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), **extra)
    if not extra:
        env.pop("MHBENCH_DAGSTER_PG", None)
    mhbench = str(Path(sys.executable).with_name("mhbench"))
    subprocess.run([mhbench, "sample"], env=env, cwd=REPO, check=True, capture_output=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [mhbench, "run", "--draft"], env=env, cwd=REPO, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"mhbench run failed:\n{completed.stdout[-3000:]}{completed.stderr}")
    return wall


def main(runs: int) -> None:
    server = PgServer.create()
    server.start()
    print(f"PostgreSQL: initdb {server.init_seconds:.1f} s, start {server.start_seconds:.2f} s")
    root = Path(tempfile.mkdtemp(prefix="mhbench-bench-pg-"))
    walls: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    loads: list[float] = []
    try:
        for i in range(runs):
            database = f"bench{i}"
            server.create_database(database)
            for kind, extra in (
                ("sqlite", {}),
                ("postgres", {"MHBENCH_DAGSTER_PG": server.dagster_url(database)}),
            ):
                loads.append(os.getloadavg()[0])
                wall = _cold_cycle(root / kind / "home", extra)
                walls[kind].append(wall)
                print(f"run {i + 1}/{runs} {kind}: {wall:.1f} s (load {loads[-1]:.1f})")
    finally:
        server.remove()
        shutil.rmtree(root, ignore_errors=True)
    medians = {kind: statistics.median(w) for kind, w in walls.items()}
    ratio = medians["postgres"] / medians["sqlite"]
    print(
        f"cold cycle median: SQLite {medians['sqlite']:.1f} s, PostgreSQL "
        f"{medians['postgres']:.1f} s, ratio {ratio:.2f} (load {min(loads):.1f}-{max(loads):.1f})"
    )
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench_pg.json").write_text(
        json.dumps(
            {
                "pg_initdb_s": server.init_seconds,
                "pg_start_s": server.start_seconds,
                "cold_cycle_wall_s": walls,
                "median_wall_s": medians,
                "ratio_postgres_over_sqlite": ratio,
                "load_1min": loads,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1)
