"""Return files for the bench cases: changed resubmissions, and an inbox at scale.

`write_resubmissions` writes resubmissions of the sample's returns, each a valid return
of its participant-year in the participant's own format (xlsx, or CSV for the CSV
senders) with one value changed: the adult acute bed count raised by `bump` (a change
every rule accepts), so its sha256 is new and ingestion registers it `accepted`. They are
written to a scratch folder and then renamed into the inbox one after the other
(`drop`), so the sensor never sees a half-written file and the files arrive "at once".

`write_scale_inbox` writes one CSV return per participant x year with the sample
generator's consistent values, read against the (synthetic) seeds it is given.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHANGED_ITEM = "AA_BEDS"


@dataclass(frozen=True)
class Resubmission:
    scratch: Path  # written here first
    target: Path  # renamed to here by drop()
    participant: str
    year: int
    sha256: str


def write_resubmissions(
    home: Path, scratch: Path, year: int, count: int, first: int = 0, seeds: Path | None = None
) -> list[Resubmission]:
    """`count` resubmissions for `year`, numbered from `first`, for different participants
    (those of the dictionary in `seeds`, default the repository's).

    File k goes to the k-th participant (in code order, wrapping around) and raises its
    bed count by 1 + k // participants, so every file of a bench has its own bytes."""
    from demo.sample_returns import (
        about_block,
        build_rows,
        csv_senders,
        sample_values,
        write_return_csv,
    )
    from ingestion.dictionary import load_dictionary
    from ingestion.registry import file_sha256
    from ingestion.template import write_return_workbook

    dictionary = load_dictionary() if seeds is None else load_dictionary(seeds)
    codes = sorted(dictionary.participants)
    csv_codes = csv_senders(codes)
    scratch.mkdir(parents=True, exist_ok=True)
    made = []
    for k in range(first, first + count):
        code = codes[k % len(codes)]
        values = dict(sample_values(code, year, dictionary=dictionary))
        values[CHANGED_ITEM] += 1 + k // len(codes)
        rows = build_rows(code, year, values, dictionary)
        suffix = "csv" if code in csv_codes else "xlsx"
        name = f"{code}_{year}_resubmitted_{k}.{suffix}"
        path = scratch / name
        if suffix == "csv":
            write_return_csv(path, code, year, rows)
        else:
            write_return_workbook(path, about_block(code, year, dictionary), rows, dictionary)
        target = home / "inbox" / str(year) / name
        made.append(Resubmission(path, target, code, year, file_sha256(path)))
    return made


def drop(files: list[Resubmission]) -> None:
    """Rename the files into the inbox (same filesystem: each appears whole)."""
    for f in files:
        f.target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f.scratch, f.target)


def write_scale_inbox(home: Path, seeds: Path, codes: list[str], years: list[int]) -> int:
    """One CSV return per participant and year in home/inbox/<year>/; returns the count."""
    from demo.sample_returns import build_rows, sample_values, write_return_csv
    from ingestion.dictionary import load_dictionary

    dictionary = load_dictionary(seeds)
    written = 0
    for year in years:
        for code in codes:
            values = sample_values(code, year, dictionary=dictionary)
            rows = build_rows(code, year, values, dictionary)
            write_return_csv(home / "inbox" / str(year) / f"{code}_{year}.csv", code, year, rows)
            written += 1
    return written
