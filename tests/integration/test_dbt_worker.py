"""The dbt worker `mhbench run` starts ahead (orchestration/dbt_worker.py): a dbt command given
to its launcher runs in it as it runs in dbt's executable, the parse it made is kept for the
home, and without a worker the launcher is dbt itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    PARSE_REUSED,
    dbt_executable,
    parse_state,
    release_kind_vars,
    reuse_parse_state,
)
from orchestration.dbt_worker import (
    SOCKET_PREFIX,
    WORKER_PREFIX,
    start_dbt_worker,
    take_dbt_worker,
)
from runtime.home import Home
from tests.conftest import mhbench_env

pytestmark = pytest.mark.xdist_group("dbt_build")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return Home(tmp_path_factory.mktemp("worker") / "home").ensure()


@pytest.fixture
def env(home, monkeypatch, tmp_path):
    """The environment dagster-dbt gives dbt (JSON log lines, a target folder of its own)."""
    for name, value in mhbench_env(home.root).items():
        monkeypatch.setenv(name, value)
    target = tmp_path / "target"
    return {
        **os.environ,
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_LOG_FORMAT": "json",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def _dbt(executable: str, args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable, *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True
    )


def _printed(completed: subprocess.CompletedProcess) -> set[str]:
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    return {line["data"]["msg"] for line in lines if line["info"]["name"] == "PrintEvent"}


def test_a_command_runs_in_the_worker_and_its_parse_is_kept_for_the_home(home, env):
    state = parse_state(home.dbt_parse_state, "draft")
    assert not state.exists()
    worker = start_dbt_worker(home, "draft")
    assert worker is not None and worker.folder.name.startswith(WORKER_PREFIX)
    assert start_dbt_worker(home, "draft") is None, "one worker per home and kind at a time"
    assert take_dbt_worker(home, "final") is None, "none was started for that kind"
    assert take_dbt_worker(home, "draft") is worker
    assert take_dbt_worker(home, "draft") is None, "taken once"

    listed = _dbt(
        worker.executable,
        ["ls", "--resource-type", "seed", "--output", "name", "--vars", release_kind_vars("draft")],
        env,
    )

    assert listed.returncode == 0, listed.stderr
    # dbt's JSON log lines, in the launcher's stdout, as dagster-dbt reads them from dbt
    seeds = {path.stem for path in (DBT_PROJECT_DIR / "seeds").rglob("*.csv")}
    assert _printed(listed) == seeds
    pids = {json.loads(line)["info"]["pid"] for line in listed.stdout.splitlines()}
    assert pids == {worker.process.pid}, "dbt ran in the worker, not in a dbt of its own"
    assert state.is_file(), "the whole parse is kept for the home's next builds"
    assert "parsed the whole project (the home kept no parse of this kind)" in worker.report()
    # the next command (the dbt step's `dbt docs generate`) runs there too, dbt parsing for it
    models = _dbt(
        worker.executable,
        [
            "ls",
            "--resource-type",
            "model",
            "--output",
            "name",
            "--vars",
            release_kind_vars("draft"),
        ],
        env,
    )
    assert models.returncode == 0, models.stderr
    assert "fct_indicator_values" in _printed(models) and not seeds & _printed(models)
    assert {json.loads(line)["info"]["pid"] for line in models.stdout.splitlines()} == pids
    assert worker.process.poll() is None, "it waits for the next command"
    worker.close()
    assert worker.process.returncode is not None
    assert not worker.folder.exists() and not worker.private.exists()


@pytest.mark.parametrize(
    "args", [["run-operation", "no_such_macro"], ["build", "--no-such-flag"]], ids=str
)
def test_a_failing_command_ends_as_in_dbt_itself(home, env, args):
    worker = start_dbt_worker(home, "draft")
    assert take_dbt_worker(home, "draft") is worker

    in_worker = _dbt(worker.executable, args, env)

    assert in_worker.returncode == 2  # dbt's own code for either (checked once below)
    assert {json.loads(line)["info"]["pid"] for line in in_worker.stdout.splitlines()} <= {
        worker.process.pid
    }
    if args[0] == "build":
        assert "No such option '--no-such-flag'" in in_worker.stderr
        in_dbt = _dbt(dbt_executable(), args, env)
        assert in_dbt.returncode == 2 and "No such option '--no-such-flag'" in in_dbt.stderr
    else:
        errors = [line for line in in_worker.stdout.splitlines() if "MainEncounteredError" in line]
        assert errors and "no_such_macro" in errors[0]
    assert worker.report().startswith("dbt ran in the worker `mhbench run` started ahead")
    assert PARSE_REUSED.replace("dbt ", "", 1) in worker.report()
    worker.close()


def test_without_a_worker_the_launcher_is_dbt_itself(home, env):
    worker = start_dbt_worker(home, "final")
    take_dbt_worker(home, "final")
    worker.process.kill()
    worker.process.wait()
    target = Path(env["DBT_TARGET_PATH"])  # dbt itself starts from the home's parse too
    reuse_parse_state(parse_state(home.dbt_parse_state, "draft"), target)

    listed = _dbt(worker.executable, ["ls", "--resource-type", "seed", "--output", "name"], env)

    assert listed.returncode == 0, listed.stderr
    assert "ppp" in _printed(listed)
    assert worker.process.pid not in {
        json.loads(line)["info"]["pid"] for line in listed.stdout.splitlines()
    }
    assert "dbt ran as its own executable" in worker.report()
    worker.close()


def test_a_worker_ends_with_the_process_that_started_it_and_leaves_nothing(home, env):
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os
                from pathlib import Path
                from orchestration.dbt_worker import start_dbt_worker
                from runtime.home import Home
                worker = start_dbt_worker(Home(Path({str(home.root)!r})), "final")
                print(worker.process.pid, worker.folder, worker.private, flush=True)
                os._exit(0)  # killed: no atexit, the worker still importing dbt
                """
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    pid, folder, private = started.stdout.split()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}"), "the worker outlived its CLI"
    # left for the next start (the temp folder's may go sooner: any CLI starting a worker on
    # this machine clears those of dead CLIs, as one in another test may do meanwhile)
    assert os.path.isdir(folder)
    # the parse a killed CLI of the previous version made ahead
    ahead = home.dbt_parse_state / f".ahead-final-{2**22 + 12345}"
    ahead.mkdir(parents=True)
    # the next worker clears what a killed CLI left
    worker = start_dbt_worker(home, "final")
    assert not os.path.exists(folder) and not os.path.exists(private)
    assert not ahead.exists()
    assert worker.private.name.startswith(SOCKET_PREFIX)
    worker.close()
