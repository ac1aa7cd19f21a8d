"""Measuring a subprocess for the bench cases: wall time, peak RSS of its tree, the load.

`run_measured` runs one command in a session of its own (so everything it starts can be
found and stopped), with a timeout, and samples the resident memory of the whole process
tree while it runs: the sum over every live descendant, read from /proc every
`SAMPLE_INTERVAL_S`. `TreeRss` does the same for a long-lived process (a `dagster dev`).
`largest_child_rss_mib` is what resource.getrusage reports: the largest single process that
was waited for, for comparison with the older figures of scripts/bench.py.

Linux only (/proc), like the machine the bench runs on.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_INTERVAL_S = 0.5
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}


class CaseFailed(RuntimeError):
    """A measured command failed or timed out: the bench stops with its output."""


def load_1min() -> float:
    return round(os.getloadavg()[0], 2)


def quiet_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    """`env` with telemetry off, SQLite for the Dagster instance, and `extra` set."""
    out = dict(env)
    out.pop("MHBENCH_DAGSTER_PG", None)
    out.update(TELEMETRY_OFF)
    out.update(extra)
    return out


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident pages) of every process that can be read now."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(entry.path, "stat").read_text()
            # the command name (field 2) may hold spaces: the fields after it follow ") "
            fields = stat[stat.rindex(")") + 2 :].split()
            found[int(entry.name)] = (int(fields[1]), int(fields[21]))
    return found


def descendants(root: int) -> dict[int, int]:
    """pid -> resident pages of `root` and every process below it."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in processes and pid not in tree:
            tree[pid] = processes[pid][1]
            todo.extend(children.get(pid, []))
    return tree


class TreeRss:
    """Samples the summed RSS of a process tree in a thread until stopped."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_pages = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            tree = descendants(self.root)
            self.peak_pages = max(self.peak_pages, sum(tree.values()))
            self.peak_processes = max(self.peak_processes, len(tree))
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return round(self.peak_pages * PAGE_MIB, 1)


def stop_tree(process: subprocess.Popen, grace_s: float = 20) -> None:
    """Stop a process started with start_new_session and everything below it.

    SIGTERM to its process group, then SIGKILL to the group and to any descendant that
    left it (found by parent pid), by their ids."""
    stragglers = set(descendants(process.pid))
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in stragglers - {process.pid}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_tree_rss_mib: float
    peak_processes: int
    load_1min: float
    stdout: str

    def as_dict(self) -> dict:
        return {
            "wall_s": round(self.wall_s, 2),
            "peak_tree_rss_mib": self.peak_tree_rss_mib,
            "peak_processes": self.peak_processes,
            "load_1min": self.load_1min,
        }


def run_measured(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float, log: Path | None = None
) -> Measured:
    """Run `cmd` to the end (or fail after `timeout` seconds, the tree stopped)."""
    load = load_1min()
    out = log.open("w+b") if log else None
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=out or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with TreeRss(process.pid) as rss:
            try:
                stdout, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_tree(process)
                raise CaseFailed(f"{' '.join(cmd)} did not finish within {timeout:.0f} s") from None
        wall = time.perf_counter() - start
    finally:
        if process.poll() is None:
            stop_tree(process)
        if out:
            out.seek(0)
            stdout = out.read()
            out.close()
    text = stdout.decode(errors="replace") if stdout else ""
    if process.returncode != 0:
        raise CaseFailed(
            f"{' '.join(cmd)} failed with exit code {process.returncode}:\n{text[-4000:]}"
        )
    return Measured(wall, rss.peak_mib, rss.peak_processes, load, text)


def largest_child_rss_mib() -> float:
    """The largest RSS of any child process waited for so far (getrusage), in MiB."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
