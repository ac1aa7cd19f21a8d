"""Shared fixtures. The expensive one, a whole annual cycle on the sample, runs once per
test session (tests that use it are grouped on one xdist worker)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def mhbench_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MHBENCH_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        GX_ANALYTICS_ENABLED="False",
        DO_NOT_TRACK="1",
    )
    return env


def run_mhbench(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess against `home`."""
    completed = subprocess.run(
        [sys.executable, "-m", "cli.app", *args],
        cwd=REPO,
        env=mhbench_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and completed.returncode != 0:
        raise AssertionError(
            f"mhbench {' '.join(args)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout[-6000:]}\nstderr:\n{completed.stderr[-6000:]}"
        )
    return completed


@dataclass(frozen=True)
class Cycle:
    home: Path
    sample: object  # demo.sample_returns.SampleSummary
    run_output: str


@pytest.fixture(scope="session")
def cycle(tmp_path_factory) -> Cycle:
    """Sample returns + `mhbench run`, once: a real Dagster run, real dbt, real GE, a release."""
    from demo.sample_returns import generate_sample
    from runtime.home import Home

    home = tmp_path_factory.mktemp("cycle") / "home"
    summary = generate_sample(Home(home).ensure(), seed=2024)
    completed = run_mhbench(home, "run")
    return Cycle(home=home, sample=summary, run_output=completed.stdout)


DBT_PROJECT = REPO / "dbt_project"


def run_dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real dbt CLI on the project against `home`'s warehouse, with its own target dir
    (so parallel tests never share dbt's partial-parse state)."""
    env = mhbench_env(home)
    env.update(DBT_TARGET_PATH=str(home / "dbt-target"), DBT_PROFILES_DIR=str(DBT_PROJECT))
    dbt = Path(sys.executable).with_name("dbt")
    completed = subprocess.run(
        [str(dbt), *args], cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600
    )
    if completed.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{completed.stdout[-8000:]}")
    return completed
