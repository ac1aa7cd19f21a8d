"""Upgrade in place: a MHBENCH_HOME made by the version before the collection workflow keeps
working. The previous version's code (the commit before the workflow landed, from this
repository's own history) runs the sample's annual cycle into a fresh home; this version then
runs on that home: the event log is created, what was published is recorded as approved by
`migration`, and the next final release keeps every participant-year the old one published.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import dagster as dg
import pytest

from orchestration.event_log_storage import KeptSqliteEventLogStorage
from publishing.store import current_release
from runtime.home import Home
from tests.conftest import REPO, mhbench_env, run_mhbench

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("upgrade")]

# The last commit before the collection workflow (raw.workflow_events, release kinds).
BEFORE_WORKFLOW = "8827f1a"


def _previous_version(tmp_path: Path) -> Path:
    """The source tree of BEFORE_WORKFLOW, unpacked from git (no worktree is registered)."""
    tree = tmp_path / "previous"
    tree.mkdir()
    archive = tmp_path / "previous.tar"
    try:
        subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "archive",
                "--format=tar",
                "-o",
                str(archive),
                BEFORE_WORKFLOW,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no git history with {BEFORE_WORKFLOW} here ({exc}): clone the repository")
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _run_previous(tree: Path, home: Path, *args: str) -> str:
    env = mhbench_env(home) | {"PYTHONPATH": str(tree)}
    completed = subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return completed.stdout


def test_a_home_of_the_previous_version_upgrades_in_place(tmp_path):
    tree = _previous_version(tmp_path)
    home = Home(tmp_path / "home")
    _run_previous(tree, home.root, "sample")
    _run_previous(tree, home.root, "run")
    old = current_release(home)
    assert "kind" not in old.manifest  # made before release kinds existed
    published = {(s["participant_code"], s["collection_year"]) for s in old.manifest["submissions"]}
    with dg.DagsterInstance.from_config(str(home.root / "dagster")) as instance:
        old_runs = {r.run_id: len(instance.all_logs(r.run_id)) for r in instance.get_runs()}
    assert old_runs and all(old_runs.values())

    completed = run_mhbench(home.root, "run")
    assert "Published" in completed.stdout
    new = current_release(home)
    assert new.release_id != old.release_id and new.manifest["kind"] == "final"
    included = {
        (e["participant_code"], e["collection_year"])
        for e in new.manifest["participant_years"]["included"]
    }
    assert included == published

    status = json.loads(run_mhbench(home.root, "status", "--format", "json").stdout)
    migrated = [r for r in status if r["approved_by"] == "migration"]
    assert len(migrated) == len(published)
    assert {r["state"] for r in migrated} == {"published"}

    # the instance's event log is now the platform's (kept connections) on the same files:
    # the previous version's runs are there with every event
    with dg.DagsterInstance.from_config(str(home.root / "dagster")) as instance:
        assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
        assert {r: len(instance.all_logs(r)) for r in old_runs} == old_runs
        assert len(instance.get_runs()) == len(old_runs) + 1
