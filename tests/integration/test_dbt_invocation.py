"""How the dbt step invokes dbt: the parse it keeps per home and release kind, and the dbt
version it takes from the environment rather than from `dbt --version` (which asks PyPI)."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest

from orchestration.dagster_dbt_light import MhbenchDbtCliResource
from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    PARSE_REUSED,
    keep_parse_state,
    parse_report,
    parse_state,
    reuse_parse_state,
)
from runtime.home import Home
from tests.conftest import dbt_parse

pytestmark = pytest.mark.xdist_group("dbt_build")


def _parse(home: Home, target: Path, kind: str, log_format: str = "json") -> None:
    dbt_parse(home.root, target, kind, log_format)


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
    # dbt's text log (the worker's parse) says it too: it was once reported as reused
    text = tmp_path / "text"
    reuse_parse_state(state, text)
    _parse(home, text, "final", log_format="text")
    assert "Unable to do partial parsing" in (text / "dbt.log").read_text()
    assert parse_report(text).startswith("dbt parsed the whole project: config vars")


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
