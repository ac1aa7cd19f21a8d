"""Partitions of the ingestion assets: collection year × participant.

Years are the collection calendar's (seed `collection_calendar`); participants are dynamic
partitions, added when a participant's first return arrives (by the inbox sensor, by
`mhbench run`, or by the publication schedule). Keys read `2024|SE`, as in DESIGN.md.
Which partition a file belongs to is decided in ingestion/partitions.py.
"""

from collections.abc import Sequence

import dagster as dg

from ingestion.calendar import load_calendar
from ingestion.partitions import ReturnPartition
from runtime.home import Home
from runtime.warehouse import connect_warehouse, warehouse_exists

PARTICIPANTS = dg.DynamicPartitionsDefinition(name="participants")
COLLECTION_YEARS = dg.StaticPartitionsDefinition([str(year) for year in sorted(load_calendar())])
# dimension names sort year first, so keys read <year>|<participant>
RETURN_PARTITIONS = dg.MultiPartitionsDefinition(
    {"collection_year": COLLECTION_YEARS, "participant": PARTICIPANTS}
)

_RANGE_START = "dagster/asset_partition_range_start"
_RANGE_END = "dagster/asset_partition_range_end"


def partition_key(partition: ReturnPartition) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey(
        {"collection_year": str(partition.year), "participant": partition.participant}
    )


def inbox_partitions(home: Home) -> dict[str, ReturnPartition]:
    """The partition of every file in the inbox (relative path -> partition)."""
    return {path: partition for path, (partition, _) in scan_inbox(home).items()}


def scan_inbox(home: Home) -> dict[str, tuple[ReturnPartition, bool]]:
    """The partition of every file in the inbox, and whether the file is registered already
    (relative path -> (partition, registered)).

    Registered files take their partition from the registry; new files are read and
    checked (nothing is registered) to find theirs.
    """
    import duckdb

    from ingestion.partitions import partition_for, partition_of_file
    from ingestion.registry import file_sha256, inbox_files, submission_id_for

    calendar = load_calendar()
    registered: dict[str, tuple] = {}
    if warehouse_exists(home.warehouse):
        try:
            with connect_warehouse(home.warehouse, read_only=True) as con:
                registered = {
                    sid: (code, year)
                    for sid, code, year in con.execute(
                        "select submission_id, participant_code, collection_year from raw.submissions"
                    ).fetchall()
                }
        except duckdb.Error:
            registered = {}
    files = {}
    for path, year in inbox_files(home):
        known = registered.get(submission_id_for(file_sha256(path)))
        relative = path.relative_to(home.inbox).as_posix()
        if known is not None:
            files[relative] = (partition_for(known[0], year, known[1], calendar=calendar), True)
        else:
            files[relative] = (partition_of_file(path, year, calendar=calendar), False)
    return files


def add_inbox_participants(
    instance: dg.DagsterInstance, home: Home, scan: dict | None = None
) -> list[str]:
    """Add a participant partition for every participant with a file in the inbox (`scan`:
    a `scan_inbox` of it, when the caller has one)."""
    scan = scan_inbox(home) if scan is None else scan
    existing = set(instance.get_dynamic_partitions(PARTICIPANTS.name))
    new = sorted({partition.participant for partition, _ in scan.values()} - existing)
    if new:
        instance.add_dynamic_partitions(PARTICIPANTS.name, new)
    return new


def pending_partition_tags(
    participants: Sequence[str], pending: set[ReturnPartition]
) -> dict[str, str]:
    """Run tags targeting the partitions of files not registered yet, in one run.

    A range over a multi-partitions definition is the product of the ranges of its dimensions,
    so this is the smallest such box around them (years first..last × participants in
    partition order first..last): one resubmission is one partition, not all of them. Files
    of the other partitions inside the box are registered already and skipped by hash.
    `participants` are the participant partitions in their order (new ones last).
    """
    order = {code: i for i, code in enumerate(participants)}
    years = sorted({p.year for p in pending})
    participants = sorted({p.participant for p in pending}, key=order.__getitem__)
    first = ReturnPartition(years[0], participants[0])
    last = ReturnPartition(years[-1], participants[-1])
    return {_RANGE_START: first.key, _RANGE_END: last.key}


def every_partition_tags(instance: dg.DagsterInstance) -> dict[str, str] | None:
    """Run tags targeting every partition in one run (the annual cycle), None if there are none.

    A range over a multi-partitions definition is the product of the ranges of its
    dimensions, so first year..last year × first..last participant is all of them.
    """
    participants = instance.get_dynamic_partitions(PARTICIPANTS.name)
    years = COLLECTION_YEARS.get_partition_keys()
    if not participants or not years:
        return None
    first = ReturnPartition(int(years[0]), participants[0])
    last = ReturnPartition(int(years[-1]), participants[-1])
    return {_RANGE_START: first.key, _RANGE_END: last.key}
