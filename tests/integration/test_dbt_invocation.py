"""How the dbt step invokes dbt: the parse it keeps per home and release kind, and the dbt
version it takes from the environment rather than from `dbt --version` (which asks PyPI)."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from orchestration.dagster_dbt_light import MhbenchDbtCliResource
from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    PARSE_REUSED,
    dbt_executable,
    keep_parse_state,
    parse_report,
    parse_state,
    release_kind_vars,
    reuse_parse_state,
)
from runtime.home import Home
from tests.conftest import mhbench_env

pytestmark = pytest.mark.xdist_group("dbt_build")


def _parse(home: Home, target: Path, kind: str) -> None:
    """`dbt parse` as dagster-dbt runs a build: JSON log in the invocation's target folder."""
    env = mhbench_env(home.root)
    env.update(DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(target), DBT_LOG_FORMAT="json")
    env["DBT_PROFILES_DIR"] = str(DBT_PROJECT_DIR)
    subprocess.run(
        [dbt_executable(), "parse", "--vars", release_kind_vars(kind)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
    )


def test_the_parse_kept_for_a_home_and_kind_is_reused_and_a_full_parse_says_why(tmp_path):
    home = Home(tmp_path / "home").ensure()
    state = parse_state(home.dbt_parse_state, "draft")

    first = tmp_path / "first"
    reuse_parse_state(state, first)  # nothing kept yet
    _parse(home, first, "draft")
    assert parse_report(first) == "dbt parsed the whole project: saved manifest not found"
    keep_parse_state(first, state)
    assert state.is_file()

    second = tmp_path / "second"
    reuse_parse_state(state, second)
    _parse(home, second, "draft")
    assert parse_report(second) == PARSE_REUSED

    # another release kind (its --vars) is not that parse: dbt says so, and it gets its own
    other = tmp_path / "other"
    reuse_parse_state(state, other)
    _parse(home, other, "final")
    assert parse_report(other).startswith("dbt parsed the whole project: config vars")
    assert parse_state(home.dbt_parse_state, "final") != state


def test_the_dbt_version_comes_from_the_environment_not_from_running_dbt(tmp_path):
    # an executable that fails if run: dagster-dbt would run `dbt --version` on first use
    refuses = tmp_path / "dbt"
    refuses.write_text("#!/bin/sh\necho 'dbt was run' >&2\nexit 3\n")
    refuses.chmod(0o755)
    resource = MhbenchDbtCliResource(
        project_dir=os.fspath(DBT_PROJECT_DIR),
        profiles_dir=os.fspath(DBT_PROJECT_DIR),
        dbt_executable=os.fspath(refuses),
    )
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._cli_version.major == 1


def test_a_parse_made_ahead_is_kept_for_the_home_and_a_build_starts_from_it(tmp_path, monkeypatch):
    from orchestration.dbt_parse_ahead import (
        AHEAD_PREFIX,
        finish_parse_ahead,
        start_parse_ahead,
    )

    home = Home(tmp_path / "home").ensure()
    for name, value in mhbench_env(home.root).items():
        monkeypatch.setenv(name, value)
    state = parse_state(home.dbt_parse_state, "draft")

    ahead = start_parse_ahead(home, "draft")
    assert ahead is not None and ahead.target.name.startswith(AHEAD_PREFIX)
    assert start_parse_ahead(home, "draft") is None, "one parse per home and kind at a time"
    assert finish_parse_ahead(home, "final") is None, "none was started for that kind"

    waited = finish_parse_ahead(home, "draft")

    assert waited is not None and waited >= 0
    assert state.is_file() and not ahead.target.exists()
    assert finish_parse_ahead(home, "draft") is None, "finished once"
    assert start_parse_ahead(home, "draft") is None, "the home keeps a parse of that kind now"
    # a build of that kind, as the dbt step runs it, starts from it
    build = tmp_path / "build"
    reuse_parse_state(state, build)
    _parse(home, build, "draft")
    assert parse_report(build) == PARSE_REUSED


def test_a_parse_ahead_still_running_at_exit_is_stopped_and_leaves_nothing(tmp_path, monkeypatch):
    from orchestration.dbt_parse_ahead import AHEAD_PREFIX, start_parse_ahead

    home = Home(tmp_path / "home").ensure()
    for name, value in mhbench_env(home.root).items():
        monkeypatch.setenv(name, value)
    # the folder of a parse whose CLI was killed (no such process): cleared by the next start
    leftover = home.dbt_parse_state / f"{AHEAD_PREFIX}final-{2**22 + 12345}"
    leftover.mkdir(parents=True)

    ahead = start_parse_ahead(home, "final")
    assert ahead is not None and not leftover.exists()
    ahead.close()  # what atexit does when the run never reached its dbt step

    assert ahead.process.returncode is not None
    assert not ahead.target.exists()
    assert not parse_state(home.dbt_parse_state, "final").exists()
