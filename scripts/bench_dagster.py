"""A `dagster dev` (webserver + daemon) for the bench, driven through its GraphQL API.

`dagster_dev()` starts it on workspace.yaml in a session of its own, on a free port of
127.0.0.1, waits until the code location has loaded, and on leaving (normally, on an
error, on Ctrl-C) stops the whole process tree (code servers, daemon, run workers).
`DagsterDev` turns a sensor on, waits for its ticks and lists runs; every wait has a
deadline and fails with the tail of the server's log instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench_measure import CaseFailed, stop_tree

TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
REPOSITORY = "__repository__"

_LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
_START_SENSOR = """
mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""
_TICKS = """
query($selector: SensorSelector!, $after: Float) { sensorOrError(sensorSelector: $selector) {
    __typename ... on Sensor { sensorState { ticks(limit: 20, afterTimestamp: $after) {
        status timestamp endTimestamp runIds skipReason error { message } } } } } }
"""
_RUNS = """
query($after: Float) { runsOrError(filter: {createdAfter: $after}) { __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime
        tags { key value } } } } }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterDev:
    url: str
    log: Path
    process: subprocess.Popen
    location: str = ""
    seconds_to_load: float = 0.0

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        if "errors" in payload:
            raise CaseFailed(f"GraphQL error: {payload['errors']}")
        return payload["data"]

    def wait_until(self, what: str, check: Callable, deadline: float, interval: float = 1.0):
        """Poll `check` until it returns something truthy, before `deadline` (monotonic)."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CaseFailed(
                    f"dagster dev exited ({self.process.returncode}) before {what}:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                result = check()
                if result:
                    return result
            time.sleep(interval)
        raise CaseFailed(
            f"timed out waiting for {what}; the end of the dagster dev log:\n"
            + self.log.read_text(errors="replace")[-2000:]
        )

    def _selector(self, sensor: str) -> dict:
        return {
            "repositoryLocationName": self.location,
            "repositoryName": REPOSITORY,
            "sensorName": sensor,
        }

    def start_sensor(self, sensor: str) -> None:
        started = self.graphql(_START_SENSOR, {"selector": self._selector(sensor)})["startSensor"]
        if started["__typename"] != "Sensor":
            raise CaseFailed(f"could not start {sensor}: {started}")

    def ticks(self, sensor: str, after: float) -> list[dict]:
        """The sensor's ticks since `after` (epoch seconds), newest first."""
        found = self.graphql(_TICKS, {"selector": self._selector(sensor), "after": after})
        return found["sensorOrError"]["sensorState"]["ticks"]

    def runs(self, created_after: float) -> list[dict]:
        """Every run created since `created_after` (epoch seconds), tags as a dict."""
        found = self.graphql(_RUNS, {"after": created_after})["runsOrError"]["results"]
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in found]


@contextlib.contextmanager
def dagster_dev(repo: Path, env: dict[str, str], log: Path, timeout: float) -> Iterator[DagsterDev]:
    """`dagster dev -w workspace.yaml` in `repo`, loaded, until the block ends."""
    port = free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = DagsterDev(f"http://127.0.0.1:{port}", log, process)
    try:

        def loaded() -> str | None:
            entries = server.graphql(_LOCATIONS)["workspaceOrError"]["locationEntries"]
            for entry in entries:
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    raise CaseFailed(f"code location {entry['name']} failed: {error['message']}")
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries[0]["name"]
            return None

        server.location = server.wait_until("loaded code location", loaded, started + timeout)
        server.seconds_to_load = round(time.monotonic() - started, 1)
        yield server
    finally:
        stop_tree(process)
