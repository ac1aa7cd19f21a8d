"""Reference data of the build warehouse that a release documents: the flags seed.

A release's DuckDB holds only the marts; the flags (their meaning, their SDMX observation
status) come from the warehouse's seed table and travel in the manifest (`flags`), so that
every export of a release (the workbook's README, SDMX's CL_OBS_STATUS) says the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from runtime.warehouse import connect_warehouse


@dataclass(frozen=True)
class Flag:
    flag: str
    meaning: str
    sdmx_obs_status: str
    description: str


def read_flags(warehouse: Path) -> list[Flag]:
    """The flags seed (`reference.flags`), in its order."""

    with connect_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "select flag, meaning, sdmx_obs_status, description from reference.flags"
        ).fetchall()
    return [Flag(*row) for row in rows]


def flags_to_manifest(flags: list[Flag]) -> list[dict]:
    return [asdict(f) for f in flags]


def flags_from_manifest(manifest: dict) -> list[Flag]:
    return [Flag(**f) for f in manifest.get("flags") or []]
