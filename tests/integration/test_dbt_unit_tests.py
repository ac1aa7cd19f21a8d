"""dbt unit tests (`unit_tests:` in the model yml files) run against a temporary warehouse.

Unit tests are excluded from the Dagster build; this runs them all with the real dbt CLI
and checks that every unit test defined in the project passed, so a unit test that dbt
silently skipped (bad selector, parse problem) fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from ingestion.registry import ensure_schema
from runtime.home import Home
from workflow.events import ensure_workflow_schema

pytestmark = pytest.mark.xdist_group("dbt_unit")

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def _defined_unit_tests() -> set[str]:
    names: set[str] = set()
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names.update(test["name"] for test in spec.get("unit_tests") or [])
    return names


def _dbt() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


@pytest.fixture(scope="module")
def unit_test_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    """Seeds and upstream models built empty (unit tests read their column types), then
    every unit test, in one `dbt build` with its own home and target directory."""
    root = tmp_path_factory.mktemp("dbt_unit")
    home = Home(root / "home").ensure()
    with duckdb.connect(str(home.warehouse)) as con:
        ensure_schema(con)
        ensure_workflow_schema(con)
    target = root / "target"
    env = dict(os.environ)
    env.update(
        MHBENCH_HOME=str(home.root),
        DBT_TARGET_PATH=str(target),
        DBT_LOG_PATH=str(root / "logs"),
        DBT_PROFILES_DIR=str(DBT_PROJECT_DIR),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_VERSION_CHECK="false",
        DO_NOT_TRACK="1",
    )
    completed = subprocess.run(
        [
            _dbt(),
            "build",
            "--select",
            "+test_type:unit",
            "--resource-type",
            "seed",
            "model",
            "unit_test",
            "--empty",
            "--no-partial-parse",
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results_path = target / "run_results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"results": []}
    return completed, results


def test_dbt_unit_tests_run_and_pass(unit_test_run):
    completed, _ = unit_test_run
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]


def test_every_defined_unit_test_passed(unit_test_run):
    completed, results = unit_test_run
    defined = _defined_unit_tests()
    assert len(defined) >= 6, defined
    passed = {
        r["unique_id"].split(".")[-1]
        for r in results["results"]
        if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    }
    assert passed == defined, (
        f"defined but not passed: {sorted(defined - passed)}\n{completed.stdout[-4000:]}"
    )
