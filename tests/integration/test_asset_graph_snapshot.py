"""The asset graph as Dagster loads it, compared with a committed snapshot.

Every asset spec of `orchestration.definitions.defs` (key, group, kinds, deps, partitions,
owners, checks) and the names of the jobs, schedules and sensors are written as sorted
JSON and compared with tests/snapshots/asset_graph.json. A change to the graph, meant or
not (a dbt model renamed, a check that stopped blocking, a partition lost), shows here as
a diff to review. When the change is meant, rewrite the snapshot and commit it with it:

    MHBENCH_UPDATE_SNAPSHOTS=1 pytest tests/integration/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "snapshots" / "asset_graph.json"
UPDATE_ENV = "MHBENCH_UPDATE_SNAPSHOTS"
UPDATE_COMMAND = f"{UPDATE_ENV}=1 pytest tests/integration/test_asset_graph_snapshot.py"


def _partitions(partitions_def) -> dict | None:
    """Name and type of a partitions definition (and of each dimension), never a date."""
    import dagster as dg

    if partitions_def is None:
        return None
    described: dict = {"type": type(partitions_def).__name__}
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        described["dimensions"] = [
            {"dimension": dimension.name, **_partitions(dimension.partitions_def)}
            for dimension in partitions_def.partitions_defs
        ]
    elif isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        described["name"] = partitions_def.name
    elif isinstance(partitions_def, dg.StaticPartitionsDefinition):
        # The collection years come from the calendar seed, not from the clock.
        described["keys"] = list(partitions_def.get_partition_keys())
    return described


def describe(defs) -> dict:
    """What the snapshot records of a Definitions object: stable, sorted, path-free."""
    graph = defs.resolve_asset_graph()
    checks_by_asset: dict[str, list[dict]] = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        checks_by_asset.setdefault(key.asset_key.to_user_string(), []).append(
            {"name": spec.name, "blocking": spec.blocking}
        )
    assets = []
    for spec in defs.resolve_all_asset_specs():
        key = spec.key.to_user_string()
        assets.append(
            {
                "key": key,
                "group": spec.group_name,
                "kinds": sorted(spec.kinds),
                "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
                "partitions": _partitions(spec.partitions_def),
                "owners": sorted(spec.owners),
                "checks": sorted(checks_by_asset.get(key, []), key=lambda c: c["name"]),
            }
        )
    repository = defs.get_repository_def()
    return {
        "assets": sorted(assets, key=lambda a: a["key"]),
        # Dagster's own implicit jobs (`__ASSET_JOB`...) are not ours to snapshot.
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in repository.schedule_defs),
        "sensors": sorted(s.name for s in repository.sensor_defs),
    }


def _as_text(described: dict) -> str:
    return json.dumps(described, indent=2) + "\n"


def test_asset_graph_matches_the_snapshot():
    from orchestration.definitions import defs

    actual = _as_text(describe(defs))
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual)
        pytest.skip(f"{UPDATE_ENV}=1: wrote {SNAPSHOT.relative_to(REPO)}; review and commit it")
    assert SNAPSHOT.is_file(), f"no snapshot at {SNAPSHOT}; write it with:\n    {UPDATE_COMMAND}"
    expected = SNAPSHOT.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.relative_to(REPO)} (committed)",
                tofile="asset graph (loaded now)",
                n=4,
            )
        )
        pytest.fail(
            "The asset graph differs from its snapshot:\n\n"
            f"{diff}\n"
            "If this change is meant, update the snapshot and commit it with the change:\n"
            f"    {UPDATE_COMMAND}",
            pytrace=False,
        )


def test_snapshot_describes_the_published_marts_and_their_gate():
    """A sanity check of the snapshot file itself, against literals of the contract."""
    snapshot = json.loads(SNAPSHOT.read_text())
    assets = {a["key"]: a for a in snapshot["assets"]}
    release = assets["publish/release"]
    marts = {dep.split("/", 1)[1] for dep in release["deps"] if dep.startswith("marts/")}
    assert marts == {
        "dim_participant",
        "dim_indicator",
        "dim_data_item",
        "dim_year",
        "fct_return_values",
        "fct_indicator_values",
        "mart_benchmark",
        "mart_benchmark_peer_group",
        "mart_participant_position",
        "mart_trends",
        "mart_data_quality",
        "mart_validation_findings",
        "mart_lines_of_enquiry",
        "mart_exchange_suggestions",
    }
    for mart in marts:
        gate = {c["name"]: c["blocking"] for c in assets[f"marts/{mart}"]["checks"]}
        assert gate.get(f"gx_{mart}") is True, mart
    assert "annual_cycle" in snapshot["jobs"]
