"""Cost of content validation: dbt build of the marts with and without the rule models.

Synthetic data at scale: 50 participants x 10 collection years (500 accepted returns, every
dictionary item), written straight into raw.* of a temporary warehouse, with synthetic
participants / population / PPP / calendar seeds in a temporary copy of the dbt project.
Each synthetic participant reuses the sample values of a real one (scaled), and about 2 % of
values are perturbed so that every rule kind produces findings.

After one warm-up build, `dbt build --exclude test_type:unit` is timed with the rule models
(full build) and without them (`--exclude` the rule, findings and data quality models and
their seed); runs alternate and the medians are reported and written to
bench-results/bench_rules.json.

    uv run --frozen python scripts/bench_rules.py [--runs 3]
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.dictionary import load_dictionary  # noqa: E402
from ingestion.registry import ensure_schema  # noqa: E402
from ingestion.sample import sample_values  # noqa: E402

console = Console()
N_PARTICIPANTS = 50
YEARS = list(range(2015, 2025))
RULE_MODELS = [
    "validation_rules",
    "int_validation_rules",
    "int_validation_rule_operands",
    "int_rule_item_checks",
    "int_rule_indicator_checks",
    "int_rule_year_on_year",
    "int_rule_completeness",
    "int_validation_findings",
    "int_validation_blocked_items",
    "mart_validation_findings",
    "mart_data_quality",
]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _prepare(tmp: Path) -> tuple[Path, Path, int]:
    """A copy of the dbt project with synthetic seeds, and a warehouse with raw data."""
    project = tmp / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    dictionary = load_dictionary()
    real = sorted(dictionary.participants)
    rng = random.Random(2024)
    participants, population, ppp, calendar = [], [], [], []
    plan = []  # (code, year, base participant, base year, scale)
    for i in range(N_PARTICIPANTS):
        code = f"X{i:02d}"
        base = real[i % len(real)]
        scale = rng.uniform(0.5, 2.0)
        info = dictionary.participants[base]
        participants.append(
            [code, f"Synthetic {i}", info.currency, info.fiscal_year_start_month, f"group_{i % 5}"]
        )
        for y, year in enumerate(YEARS):
            base_year = 2019 + y % 6
            for band in ("0-17", "18-64", "65+", "all"):
                population.append(
                    [
                        code,
                        year,
                        band,
                        round(dictionary.population[(base, base_year, band)] * scale),
                    ]
                )
            ppp.append([code, year, dictionary.ppp[(base, base_year)]])
            plan.append((code, year, base, base_year, scale))
    for year in YEARS:
        calendar.append([year, f"{year + 1}-03-01", f"{year + 1}-06-30", f"{year + 1}-10-15"])
    seeds = project / "seeds"
    _write_csv(
        seeds / "participants.csv",
        [
            "participant_code",
            "participant_name",
            "currency",
            "fiscal_year_start_month",
            "peer_group",
        ],
        participants,
    )
    _write_csv(
        seeds / "population.csv", ["participant_code", "year", "age_band", "population"], population
    )
    _write_csv(seeds / "ppp.csv", ["participant_code", "year", "ppp_per_usd"], ppp)
    _write_csv(
        seeds / "collection_calendar.csv", ["year", "opens", "deadline", "publication"], calendar
    )

    warehouse = tmp / "home" / "warehouse" / "build.duckdb"
    warehouse.parent.mkdir(parents=True)
    submissions, values = [], []
    cache: dict[tuple[str, int], dict] = {}
    for n, (code, year, base, base_year, scale) in enumerate(plan):
        if (base, base_year) not in cache:
            cache[(base, base_year)] = sample_values(base, base_year, dictionary=dictionary)
        sid = f"{n:016x}"
        submissions.append(
            (
                sid,
                sid * 4,
                f"{code}_{year}.csv",
                f"archive/{sid}.csv",
                year,
                datetime(year + 1, 5, 1 + n % 28),
                "csv",
                code,
                year,
                "accepted",
                0,
                0,
                "[]",
            )
        )
        for line, item in enumerate(dictionary.items, start=2):
            value = cache[(base, base_year)].get(item)
            flag = None
            if value is None:
                flag = "NA"
            else:
                value = round(value * scale, 1)
                roll = rng.random()
                if roll < 0.01:
                    value = round(value * rng.choice([3.0, 0.2]), 1)  # outliers, broken rules
                elif roll < 0.015:
                    value, flag = None, "NK"
            values.append((sid, code, year, item, value, flag, None, f"line {line}"))
    with duckdb.connect(str(warehouse)) as con:
        ensure_schema(con)
        con.executemany(
            "insert into raw.submissions (submission_id, file_sha256, original_filename, "
            "archive_path, inbox_year, received_at, file_format, participant_code, "
            "collection_year, status, error_count, warning_count, issues_json) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            submissions,
        )
        con.executemany("insert into raw.return_values values (?, ?, ?, ?, ?, ?, ?, ?)", values)
    return project, warehouse, len(values)


def _dbt(project: Path, home: Path, target: Path, *args: str) -> dict[str, float]:
    """Run dbt; wall seconds, dbt's own elapsed seconds, and node seconds (rule nodes apart)."""
    env = dict(
        os.environ,
        MHBENCH_HOME=str(home),
        DBT_TARGET_PATH=str(target),
        DBT_LOG_PATH=str(target / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    dbt = Path(sys.executable).with_name("dbt")
    start = time.perf_counter()
    done = subprocess.run(
        [str(dbt), *args, "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        console.print(done.stdout[-4000:])
        raise SystemExit(f"dbt {' '.join(args)} failed")
    results = json.loads((target / "run_results.json").read_text())
    nodes = results["results"]
    rule_nodes = [
        r
        for r in nodes
        if any(f".{m}" in r["unique_id"] or f"_{m}_" in r["unique_id"] for m in RULE_MODELS)
    ]
    return {
        "wall_s": wall,
        "dbt_elapsed_s": results["elapsed_time"],
        "node_s": sum(r["execution_time"] for r in nodes),
        "rule_node_s": sum(r["execution_time"] for r in rule_nodes),
        "nodes": len(nodes),
    }


def main(runs: int = typer.Option(3, help="Timed builds of each variant (medians reported).")):
    with tempfile.TemporaryDirectory(prefix="mhbench-bench-rules-") as name:
        tmp = Path(name)
        with console.status("generating 50 participants x 10 years"):
            project, warehouse, n_values = _prepare(tmp)
        home, target = warehouse.parent.parent, tmp / "target"
        base = ["build", "--exclude", "test_type:unit"]
        without = [*base, *RULE_MODELS]
        with console.status("warm-up build"):
            _dbt(project, home, target, *base)
        timings: dict[str, list[dict[str, float]]] = {"without_rules": [], "with_rules": []}
        for i in range(runs):
            with console.status(f"run {i + 1}/{runs}"):
                timings["without_rules"].append(_dbt(project, home, target, *without))
                timings["with_rules"].append(_dbt(project, home, target, *base))
        with duckdb.connect(str(warehouse), read_only=True) as con:
            findings = dict(
                con.execute(
                    "select severity, count(*) from marts.mart_validation_findings group by 1"
                ).fetchall()
            )
            rules = con.execute("select count(*) from reference.validation_rules").fetchone()[0]
    medians = {
        variant: {
            metric: round(statistics.median(run[metric] for run in runs_), 2)
            for metric in ("wall_s", "dbt_elapsed_s", "node_s", "rule_node_s", "nodes")
        }
        for variant, runs_ in timings.items()
    }
    with_, without_ = medians["with_rules"], medians["without_rules"]
    added = {
        metric: round(100 * (with_[metric] / without_[metric] - 1), 1)
        for metric in ("wall_s", "dbt_elapsed_s", "node_s")
    }
    rule_share = round(100 * with_["rule_node_s"] / with_["node_s"], 1)
    result = {
        "participants": N_PARTICIPANTS,
        "years": len(YEARS),
        "return_values": n_values,
        "rules": rules,
        "findings": findings,
        "runs": timings,
        "median": medians,
        "added_pct": added,
        "rule_nodes_share_of_node_time_pct": rule_share,
    }
    out = REPO / "bench-results" / "bench_rules.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    table = Table(title=f"dbt build, {N_PARTICIPANTS} participants x {len(YEARS)} years (medians)")
    for column in ("variant", "nodes", "wall s", "dbt elapsed s", "node s", "rule node s"):
        table.add_column(column, justify="right")
    for key in ("without_rules", "with_rules"):
        m = medians[key]
        table.add_row(
            key,
            f"{m['nodes']:.0f}",
            f"{m['wall_s']:.1f}",
            f"{m['dbt_elapsed_s']:.1f}",
            f"{m['node_s']:.1f}",
            f"{m['rule_node_s']:.1f}",
        )
    table.add_row(
        "added",
        "",
        f"{added['wall_s']:+.1f}%",
        f"{added['dbt_elapsed_s']:+.1f}%",
        f"{added['node_s']:+.1f}%",
        f"{rule_share:.1f}% of node time",
    )
    console.print(table)
    console.print(
        f"{n_values} values, {rules} rules, findings {findings} (written to {out.relative_to(REPO)})"
    )


if __name__ == "__main__":
    typer.run(main)
