"""Synthetic returns at scale for the benchmarks: participants x years, every data item.

Shared by scripts/bench_dbt_scale.py (dbt build time at scale) and scripts/bench_rules.py
(cost of the content rules). `prepare()` copies dbt_project/ to a directory, replaces its
participants, population, ppp and collection_calendar seeds by synthetic ones (codes XA-01 ...,
5 peer groups, fiscal years starting in January, April or July), and fills raw.submissions,
raw.submission_events and raw.return_values of a new warehouse with one accepted submission per
participant and year holding every data item: the sample generator's consistent values, and NA
for the items of a service the participant does not provide (as a real return flags them).

`perturb` breaks that share of the submitted values (seeded, reproducible): two in three are
multiplied by 3 or 0.2 (outliers that break range, comparison, total, year-on-year and peer
rules), one in three becomes NK (incomplete). 0 keeps every return clean.
"""

from __future__ import annotations

import csv
import hashlib
import random
import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from demo.sample_returns import sample_values  # noqa: E402
from ingestion.dictionary import load_dictionary  # noqa: E402
from ingestion.registry import ensure_schema  # noqa: E402
from ingestion.template import fiscal_period  # noqa: E402

PEER_GROUPS = ("group_a", "group_b", "group_c", "group_d", "group_e")
BANDS = {"0-17": 0.20, "18-64": 0.62, "65+": 0.18}
LAST_YEAR = 2024


@dataclass(frozen=True)
class Scale:
    """A prepared copy of the dbt project and its warehouse (MHBENCH_HOME is `home`)."""

    project: Path
    home: Path
    warehouse: Path
    codes: list[str]
    years: list[int]
    return_values: int


def years_ending(count: int, last: int = LAST_YEAR) -> list[int]:
    return list(range(last - count + 1, last + 1))


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


def _perturbed(value: float | None, rng: random.Random, share: float) -> tuple[float | None, str]:
    """The value and flag as submitted: unchanged, an outlier (x3 or x0.2), or NK."""
    if value is None:
        return None, "NA"
    roll = rng.random()
    if roll < share * 2 / 3:
        return round(value * rng.choice([3.0, 0.2]), 1), None
    if roll < share:
        return None, "NK"
    return value, None


def fill_raw(
    warehouse: Path,
    seeds: Path,
    codes: list[str],
    years: list[int],
    perturb: float = 0.0,
    seed: int = 2024,
) -> int:
    """One accepted submission per participant-year with every data item (see module doc)."""
    dictionary = load_dictionary(seeds)
    rng = random.Random(seed)
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
            item_values = sample_values(code, year, seed=seed, dictionary=dictionary)
            for line, item in enumerate(dictionary.items, start=2):
                value, flag = _perturbed(item_values.get(item), rng, perturb)
                values.append(
                    {
                        "submission_id": submission_id,
                        "participant_code": code,
                        "collection_year": year,
                        "item_code": item,
                        "value": value,
                        "flag": flag,
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


def prepare(
    root: Path,
    participants: int = 50,
    years: int = 10,
    perturb: float = 0.0,
    seed: int = 7,
) -> Scale:
    """dbt_project/ copied to root/dbt_project with synthetic seeds; raw data in root/home."""
    project = root / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb"),
    )
    home = root / "home"
    warehouse = home / "warehouse" / "build.duckdb"
    warehouse.parent.mkdir(parents=True)
    year_list = years_ending(years)
    codes = write_seeds(project / "seeds", participants, year_list, random.Random(seed))
    n_values = fill_raw(warehouse, project / "seeds", codes, year_list, perturb=perturb)
    return Scale(project, home, warehouse, codes, year_list, n_values)
