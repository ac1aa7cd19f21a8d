"""Start a real Dagster webserver (or `dagster dev`: webserver + daemon) for a test.

The server runs as a subprocess in its own process group, on a free port of 127.0.0.1,
with the environment the test gives it (a throwaway DAGSTER_HOME and MHBENCH_HOME);
it is ready when /server_info answers and the code location (`mhbench`, as named in
workspace.yaml) has loaded. Stopping kills the whole group (code server, daemon, run
workers).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message stack } } } } } }
"""


@dataclass
class DagsterServer:
    url: str
    log: Path
    process: subprocess.Popen
    seconds_to_serve: float = 0.0
    seconds_to_load: float = 0.0
    location: str = ""  # the code location's name: workspace.yaml's `location_name`, mhbench

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def wait_until(self, what: str, check, timeout: float, interval: float = 0.25):
        """Poll `check` until it returns something truthy; fail with the server log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the Dagster server exited ({self.process.returncode}) before {what}:\n"
                    + self.log.read_text()[-6000:]
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                result = check()
                if result:
                    return result
            time.sleep(interval)
        pytest.fail(f"no {what} within {timeout:.0f}s:\n" + self.log.read_text()[-6000:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """Stop the server and everything it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def dagster_server(
    command: str, root: Path, env: dict[str, str], timeout: float
) -> Iterator[DagsterServer]:
    """Run `dagster-webserver` or `dagster dev` (`command`) on workspace.yaml until the block ends."""
    port = free_port()
    log = root / f"{command.replace(' ', '-')}.log"
    executable = Path(sys.executable).with_name(command.split()[0])
    args = [str(executable), *command.split()[1:], "-w", "workspace.yaml"]
    args += ["-h", "127.0.0.1", "-p", str(port)]
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = DagsterServer(f"http://127.0.0.1:{port}", log, process)
    try:

        def server_info():
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5) as response:
                return json.loads(response.read()).get("dagster_webserver_version")

        server.wait_until("/server_info", server_info, timeout)
        server.seconds_to_serve = time.monotonic() - started

        def loaded():
            entries = server.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
            for entry in entries:
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    pytest.fail(
                        f"code location {entry['name']} failed to load:\n{error['message']}"
                    )
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries[0]["name"]
            return None

        remaining = max(timeout - server.seconds_to_serve, 1)
        server.location = server.wait_until("loaded code location", loaded, remaining)
        server.seconds_to_load = time.monotonic() - started
        print(
            f"{command}: /server_info after {server.seconds_to_serve:.1f}s, "
            f"code location loaded after {server.seconds_to_load:.1f}s"
        )
        yield server
    finally:
        stop(process)


@dataclass
class DagsterDaemon:
    log: Path
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def dagster_daemon(root: Path, env: dict[str, str]) -> Iterator[DagsterDaemon]:
    """Run `dagster-daemon run` on workspace.yaml (sensors, schedules, the run queue, run
    monitoring) on its own, as on a machine of its own, until the block ends. It serves no
    port: a test sees it work through the instance it shares with the webservers."""
    log = root / "dagster-daemon.log"
    executable = Path(sys.executable).with_name("dagster-daemon")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield DagsterDaemon(log, process)
    finally:
        stop(process)
