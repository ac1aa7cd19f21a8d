"""Test hook: stop a run at a named stage, so a test can kill or signal it right there.

With `MHBENCH_PAUSE_AT=<stage>` in the environment, the process prints
`mhbench-paused <stage>` to stderr when it reaches that stage and sleeps
(`MHBENCH_PAUSE_SECONDS`, default 120). Stages: `ingest-registered` (each new file of a
run, once registered), `gate` (a gate check starts), and the publish stages of
`publishing.store.PUBLISH_STAGES` (their own variable, `MHBENCH_PUBLISH_PAUSE_AT`).
Without the variable, nothing happens.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV = "MHBENCH_PAUSE_AT"
PAUSE_SECONDS_ENV = "MHBENCH_PAUSE_SECONDS"


def pause_point(stage: str, env: str = PAUSE_ENV, marker: str = "mhbench-paused") -> None:
    """Sleep at `stage` when the variable `env` names it (a test hook; a no-op otherwise)."""
    if os.environ.get(env) != stage:
        return
    print(f"{marker} {stage}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "120")))
