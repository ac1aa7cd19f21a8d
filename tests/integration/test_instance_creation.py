"""A new home's SQLite Dagster instance opened by several processes at once (`mhbench run`
beside `make ui`, two sensors' runs): each opens it, one creates it
(orchestration/instance.py:open_instance)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from tests.conftest import REPO, mhbench_env

OPENERS = 4

# Imports first, then waits for the go file, so that the processes open the instance together.
OPEN_TOGETHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration.instance import configure_environment, open_instance
    configure_environment()
    go = Path(sys.argv[1])
    Path(sys.argv[2]).touch()  # ready
    while not go.exists():
        time.sleep(0.01)
    with open_instance() as instance:
        print(len(instance.get_runs()), instance.get_concurrency_config().pool_config.default_pool_limit)
    """
)


def test_processes_opening_a_new_instance_together_all_open_it(tmp_path):
    home, go = tmp_path / "home", tmp_path / "go"
    env = mhbench_env(home)
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_TOGETHER, str(go), str(tmp_path / f"ready-{n}")],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(OPENERS)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < OPENERS and time.monotonic() < deadline:
        assert all(opener.poll() is None for opener in openers), "an opener ended early"
        time.sleep(0.05)
    go.touch()  # all at once
    outcomes = [opener.communicate(timeout=120) for opener in openers]
    for opener, (out, err) in zip(openers, outcomes, strict=True):
        assert opener.returncode == 0, err[-3000:]
        assert out.split() == ["0", "1"], out  # no runs yet; the platform's pool limit of 1
    assert (home / "dagster" / ".instance-created-sqlite").is_file()
