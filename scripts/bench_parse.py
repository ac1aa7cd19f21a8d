"""Parse throughput of structural validation: calamine vs openpyxl (read-only).

Writes N returns (default 1000) with the project's template writer: every item
of the dictionary, random values, some flags, some numbers typed as text with
thousands separators. Then times `check_return` over all of them once per xlsx
engine (and once over the same returns as CSV), after one warm-up pass, and
prints returns per second. It also times one `check_return` in a fresh
interpreter (what `mhbench validate FILE` costs, start-up included).

    uv run python scripts/bench_parse.py --n 1000
"""

from __future__ import annotations

import csv
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.check import check_return  # noqa: E402
from ingestion.dictionary import Dictionary, load_dictionary  # noqa: E402
from ingestion.records import CSV_HEADER  # noqa: E402
from ingestion.template import template_about, write_return_workbook  # noqa: E402

console = Console()
YEAR = 2024


def _rows(rng: random.Random, dictionary: Dictionary) -> list[dict]:
    rows = []
    for code in sorted(dictionary.items):
        roll = rng.random()
        value: object = round(rng.uniform(0, 50_000), rng.choice((0, 0, 1, 2)))
        flag, comment = None, None
        if roll < 0.05:
            value, flag, comment = None, rng.choice(("NA", "NK")), "no such service"
        elif roll < 0.10:
            flag, comment = rng.choice(("E", "P", "B", "D")), "estimated from Q1-Q3"
        elif roll < 0.20:
            value = f"{value:,}"  # a number typed as text, with thousands separators
        rows.append({"item_code": code, "value": value, "flag": flag, "comment": comment})
    return rows


def _write_csv(path: Path, participant: str, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for row in rows:
            value = row["value"]
            writer.writerow(
                [
                    participant,
                    YEAR,
                    row["item_code"],
                    "" if value is None else value,
                    row["flag"] or "",
                    row["comment"] or "",
                ]
            )


def generate(folder: Path, n: int, dictionary: Dictionary, seed: int) -> list[Path]:
    """n xlsx returns, and the same returns as CSV beside them."""
    rng = random.Random(seed)
    participants = sorted(dictionary.participants)
    paths = []
    for i in track(range(n), description=f"writing {n} returns", console=console):
        participant = participants[i % len(participants)]
        rows = _rows(rng, dictionary)
        path = folder / f"{participant}_{i:05d}.xlsx"
        write_return_workbook(path, template_about(participant, YEAR, dictionary), rows, dictionary)
        _write_csv(path.with_suffix(".csv"), participant, rows)
        paths.append(path)
    return paths


def _time(paths: list[Path], dictionary: Dictionary, engine: str) -> tuple[float, list[float]]:
    for path in paths[: min(20, len(paths))]:  # warm-up: imports, caches
        check_return(path, expected_year=YEAR, dictionary=dictionary, engine=engine)  # type: ignore[arg-type]
    each = []
    start = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        parsed = check_return(path, expected_year=YEAR, dictionary=dictionary, engine=engine)  # type: ignore[arg-type]
        each.append(time.perf_counter() - t0)
        if not parsed.accepted:
            raise SystemExit(f"{path.name} was rejected: {parsed.errors[:3]}")
    return time.perf_counter() - start, each


def _cold_check(path: Path) -> float:
    code = (
        "import sys; from pathlib import Path; from ingestion.check import check_return; "
        f"check_return(Path(sys.argv[1]), expected_year={YEAR})"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=True)
    return time.perf_counter() - start


def main(
    n: int = typer.Option(1000, help="Number of returns to generate and check."),
    seed: int = typer.Option(7, help="Random seed for the generated values."),
) -> None:
    dictionary = load_dictionary()
    if not dictionary.items or not dictionary.participants:
        raise SystemExit("the dictionary seeds are empty; fill dbt_project/seeds first")
    with tempfile.TemporaryDirectory(prefix="mhbench-bench-parse-") as tmp:
        paths = generate(Path(tmp), n, dictionary, seed)
        size = statistics.mean(p.stat().st_size for p in paths) / 1024
        console.print(
            f"{n} returns, {len(dictionary.items)} items each, {size:.1f} KiB per xlsx on average"
        )
        table = Table("reader", "returns/s", "mean ms", "p95 ms", "total s")
        runs = [
            ("xlsx, calamine", paths, "calamine"),
            ("xlsx, openpyxl read-only", paths, "openpyxl"),
            ("csv", [p.with_suffix(".csv") for p in paths], "calamine"),
        ]
        for label, files, engine in runs:
            total, each = _time(files, dictionary, engine)
            p95 = statistics.quantiles(each, n=20)[-1] if len(each) > 1 else each[0]
            table.add_row(
                label,
                f"{len(files) / total:.0f}",
                f"{1000 * statistics.mean(each):.2f}",
                f"{1000 * p95:.2f}",
                f"{total:.2f}",
            )
        console.print(table)
        cold = min(_cold_check(paths[0]) for _ in range(3))
        console.print(f"one check in a fresh interpreter (start-up included): {cold:.2f} s")


if __name__ == "__main__":
    typer.run(main)
