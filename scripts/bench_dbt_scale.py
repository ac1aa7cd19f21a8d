"""Time `dbt build` at scale: 50 participants x 10 years of synthetic returns.

A copy of dbt_project/ goes to a temporary directory; its participants, population,
ppp and collection_calendar seeds are replaced by synthetic ones (5 peer groups), and
raw.submissions / raw.return_values of a temporary warehouse are filled with one
accepted submission per participant and year holding a value for every data item (the
sample generator's consistent values). Then `dbt build --exclude test_type:unit` is
timed twice: cold (fresh target directory, full parse) and warm (partial parse).

    uv run --frozen python scripts/bench_dbt_scale.py [--participants 50] [--years 10]
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.dictionary import load_dictionary  # noqa: E402
from ingestion.registry import ensure_schema  # noqa: E402
from ingestion.sample import sample_values  # noqa: E402
from ingestion.template import fiscal_period  # noqa: E402

console = Console()
PEER_GROUPS = ("group_a", "group_b", "group_c", "group_d", "group_e")
BANDS = {"0-17": 0.20, "18-64": 0.62, "65+": 0.18}


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def write_seeds(seeds: Path, participants: int, years: list[int], rng: random.Random) -> list[str]:
    """Synthetic participants (codes XA-01 ...), population, PPPs and calendar."""
    codes = [f"XA-{i:02d}" for i in range(1, participants + 1)]
    _write_csv(
        seeds / "participants.csv",
        [
            "participant_code",
            "participant_name",
            "currency",
            "fiscal_year_start_month",
            "peer_group",
        ],
        [
            [code, f"Synthetic {code}", "XXX", (1, 4, 7)[i % 3], PEER_GROUPS[i % len(PEER_GROUPS)]]
            for i, code in enumerate(codes)
        ],
    )
    population_rows, ppp_rows = [], []
    for code in codes:
        total = rng.uniform(100_000, 60_000_000)
        ppp = rng.uniform(0.5, 10)
        for year in years:
            grown = total * (1.004 ** (year - years[0]))
            for band, share in BANDS.items():
                population_rows.append([code, year, band, round(grown * share)])
            population_rows.append(
                [code, year, "all", sum(round(grown * s) for s in BANDS.values())]
            )
            ppp_rows.append([code, year, round(ppp * rng.uniform(0.97, 1.03), 4)])
    _write_csv(
        seeds / "population.csv",
        ["participant_code", "year", "age_band", "population"],
        population_rows,
    )
    _write_csv(seeds / "ppp.csv", ["participant_code", "year", "ppp_per_usd"], ppp_rows)
    _write_csv(
        seeds / "collection_calendar.csv",
        ["year", "opens", "deadline", "publication"],
        [[y, date(y + 1, 3, 1), date(y + 1, 6, 30), date(y + 1, 10, 15)] for y in years],
    )
    return codes


def fill_raw(warehouse: Path, seeds: Path, codes: list[str], years: list[int]) -> int:
    """One accepted submission per participant-year with a value for every data item."""
    dictionary = load_dictionary(seeds)
    submissions, values = [], []
    for code in codes:
        start_month = dictionary.participants[code].fiscal_year_start_month
        for year in years:
            sha = hashlib.sha256(f"{code}|{year}".encode()).hexdigest()
            submission_id = sha[:16]
            start, end = fiscal_period(year, start_month)
            submissions.append(
                {
                    "submission_id": submission_id,
                    "file_sha256": sha,
                    "original_filename": f"{code}_{year}.csv",
                    "inbox_path": f"inbox/{year}/{code}_{year}.csv",
                    "archive_path": f"archive/{sha}.csv",
                    "inbox_year": year,
                    "received_at": datetime(year + 1, 5, 1, 12, 0),
                    "file_format": "csv",
                    "participant_code": code,
                    "collection_year": year,
                    "participant_name": f"Synthetic {code}",
                    "period_start": start,
                    "period_end": end,
                    "currency": "XXX",
                    "template_version": "1",
                    "coverage_note": None,
                    "status": "accepted",
                    "error_count": 0,
                    "warning_count": 0,
                    "issues_json": "[]",
                    "report_path": None,
                }
            )
            item_values = sample_values(code, year, seed=2024, dictionary=dictionary)
            for line, item in enumerate(dictionary.items, start=2):
                values.append(
                    {
                        "submission_id": submission_id,
                        "participant_code": code,
                        "collection_year": year,
                        "item_code": item,
                        "value": item_values.get(item),
                        "flag": None if item in item_values else "NK",
                        "comment": None,
                        "source_place": f"line {line}",
                    }
                )
    submissions_df = pd.DataFrame(submissions)
    values_df = pd.DataFrame(values)
    events_df = pd.DataFrame(
        {
            "submission_id": submissions_df["submission_id"],
            "status": "accepted",
            "event_at": submissions_df["received_at"],
            "detail": None,
        }
    )
    with duckdb.connect(str(warehouse)) as con:
        ensure_schema(con)
        for table, frame in (
            ("submissions", submissions_df),
            ("return_values", values_df),
            ("submission_events", events_df),
        ):
            columns = ", ".join(frame.columns)
            con.register("frame", frame)
            con.execute(f"insert into raw.{table} ({columns}) select {columns} from frame")
            con.unregister("frame")
    return len(values_df)


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
    rng = random.Random(7)
    year_list = list(range(2025 - years, 2025))
    tmp = Path(tempfile.mkdtemp(prefix="mhbench-dbt-scale-"))
    try:
        project = tmp / "dbt_project"
        shutil.copytree(
            REPO / "dbt_project",
            project,
            ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"),
        )
        home = tmp / "home"
        (home / "warehouse").mkdir(parents=True)
        codes = write_seeds(project / "seeds", participants, year_list, rng)
        n_values = fill_raw(
            home / "warehouse" / "build.duckdb", project / "seeds", codes, year_list
        )
        console.print(
            f"{participants} participants x {years} years: {n_values:,} raw values in {tmp}"
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
