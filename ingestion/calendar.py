"""The collection calendar (seed `collection_calendar`): when each year's collection opens,
its submission deadline and its publication date."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.dictionary import SEEDS_DIR


@dataclass(frozen=True)
class Collection:
    year: int
    opens: date
    deadline: date
    publication: date

    def is_open(self, today: date) -> bool:
        return self.opens <= today <= self.publication


def load_calendar(seeds_dir: Path = SEEDS_DIR) -> dict[int, Collection]:
    with (seeds_dir / "collection_calendar.csv").open(newline="", encoding="utf-8") as fh:
        return {
            int(r["year"]): Collection(
                int(r["year"]),
                date.fromisoformat(r["opens"]),
                date.fromisoformat(r["deadline"]),
                date.fromisoformat(r["publication"]),
            )
            for r in csv.DictReader(fh)
        }


def collection_for(today: date, calendar: dict[int, Collection] | None = None) -> Collection | None:
    """The collection running on `today` (opened, not yet published), or the latest opened one."""
    calendar = calendar if calendar is not None else load_calendar()
    opened = [c for c in calendar.values() if c.opens <= today]
    running = [c for c in opened if c.is_open(today)]
    pool = running or opened
    return max(pool, key=lambda c: c.year) if pool else None
