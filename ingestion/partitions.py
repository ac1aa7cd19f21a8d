"""Which partition (collection year × participant) a received file belongs to.

The ingestion assets in Dagster are partitioned by collection year and participant.
The inbox sensor, the ingestion asset and `mhbench run` must put a file in the same
partition, so the rule lives here, in plain Python:

- the year is the year folder of the inbox (`inbox/2024/...`), else the year stated in
  the file; a year the collection calendar does not know, or no year at all, falls back
  to the collection running today (the latest one opened);
- the participant is the code stated in the file (About sheet or csv column) when it has
  the shape of a participant code (`SE`, `GB-ENG`), known or not: a new participant's
  first return creates its partition, and if it is not in the dictionary yet the return
  is rejected there, visibly. A file whose participant cannot be read at all (not a
  workbook, no About sheet ...) goes to the participant `unidentified`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.calendar import Collection, collection_for, load_calendar

if TYPE_CHECKING:
    from ingestion.dictionary import Dictionary
    from ingestion.records import ParsedReturn

UNIDENTIFIED = "unidentified"
_PARTICIPANT_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


@dataclass(frozen=True, order=True)
class ReturnPartition:
    year: int
    participant: str

    @property
    def key(self) -> str:
        """The Dagster multi-partition key, e.g. `2024|SE`."""
        return f"{self.year}|{self.participant}"

    @classmethod
    def from_key(cls, key: str) -> ReturnPartition:
        year, participant = str(key).split("|")
        return cls(int(year), participant)


def participant_partition(code: object) -> str:
    """The participant partition for a code read from a file (`unidentified` if unusable)."""
    text = str(code).strip().upper() if code is not None else ""
    return text if _PARTICIPANT_CODE.match(text) else UNIDENTIFIED


def partition_for(
    participant_code: object,
    inbox_year: int | None,
    file_year: int | None,
    *,
    calendar: dict[int, Collection] | None = None,
    today: date | None = None,
) -> ReturnPartition:
    calendar = calendar if calendar is not None else load_calendar()
    year = next((y for y in (inbox_year, file_year) if y in calendar), None)
    if year is None:
        running = collection_for(today or date.today(), calendar)
        year = running.year if running is not None else max(calendar)
    return ReturnPartition(year, participant_partition(participant_code))


def partition_of_parsed(parsed: ParsedReturn, inbox_year: int | None, **kwargs) -> ReturnPartition:
    return partition_for(parsed.participant_code, inbox_year, parsed.collection_year, **kwargs)


def partition_of_file(
    path: Path, inbox_year: int | None, dictionary: Dictionary | None = None, **kwargs
) -> ReturnPartition:
    """Read (and check) a file to find its partition; registers nothing."""
    from ingestion.check import check_return

    parsed = check_return(path, expected_year=inbox_year, dictionary=dictionary)
    return partition_of_parsed(parsed, inbox_year, **kwargs)
