"""Which partition (collection year × participant) a received file belongs to."""

from datetime import date

import pytest

from demo.sample_returns import generate_sample
from ingestion.calendar import Collection
from ingestion.partitions import (
    UNIDENTIFIED,
    ReturnPartition,
    participant_partition,
    partition_for,
    partition_of_file,
)

CALENDAR = {
    year: Collection(year, date(year + 1, 3, 1), date(year + 1, 6, 30), date(year + 1, 10, 15))
    for year in (2022, 2023, 2024)
}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SE", "SE"),
        (" se ", "SE"),
        ("GB-ENG", "GB-ENG"),
        ("ca-on", "CA-ON"),
        ("XX", "XX"),  # a new participant, not in the dictionary yet: its own partition
        ("Sweden", UNIDENTIFIED),
        ("", UNIDENTIFIED),
        (None, UNIDENTIFIED),
        ("SE|2024", UNIDENTIFIED),  # never a character that breaks a multi-partition key
    ],
)
def test_participant_partition(code, expected):
    assert participant_partition(code) == expected


def test_the_inbox_folder_year_wins_then_the_file_year_then_the_running_collection():
    assert partition_for("SE", 2023, 2022, calendar=CALENDAR) == ReturnPartition(2023, "SE")
    assert partition_for("SE", None, 2022, calendar=CALENDAR) == ReturnPartition(2022, "SE")
    assert partition_for("SE", 2031, 2022, calendar=CALENDAR) == ReturnPartition(2022, "SE")
    # no usable year at all: the collection running on that day (2023 runs March 2024 on)
    running = partition_for(None, None, None, calendar=CALENDAR, today=date(2024, 5, 1))
    assert running == ReturnPartition(2023, UNIDENTIFIED)
    before_any = partition_for(None, None, None, calendar=CALENDAR, today=date(2000, 1, 1))
    assert before_any.year == 2024


def test_keys_round_trip():
    partition = ReturnPartition(2024, "GB-ENG")
    assert partition.key == "2024|GB-ENG"
    assert ReturnPartition.from_key(partition.key) == partition


def test_partition_of_real_files(tmp_path):
    from runtime.home import Home

    home = Home(tmp_path / "home").ensure()
    summary = generate_sample(home, participants=["SE", "GB-ENG"], years=range(2023, 2024))
    for path in summary.files:
        participant = path.stem.rsplit("_", 1)[0]
        assert partition_of_file(path, 2023) == ReturnPartition(2023, participant)
    garbage = home.inbox / "2023" / "scan.xlsx"
    garbage.write_bytes(b"%PDF-1.4")
    assert partition_of_file(garbage, 2023) == ReturnPartition(2023, UNIDENTIFIED)
