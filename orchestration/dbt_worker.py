"""dbt started ahead of the dbt step: a process that `mhbench run` starts before it loads the
Dagster definitions. It imports dbt-core and parses the project, then runs the dbt step's
`dbt build` itself.

Why: started by the dbt step, dbt spent ~3 s of every run before its first node (importing
dbt-core 1.4 s, loading the home's kept parse 0.8 s). Started ahead, that work runs beside the
CLI's own start and the ingestion, on the other core. A home's first build of a release kind
parses the whole project (~5 s) there too, and the parse is kept for the home
(dbt_manifest.parse_state) as soon as it is made.

How: the worker listens on a Unix socket in a private folder. For the dbt step, dagster-dbt's
`dbt` is the launcher in that folder (dbt_worker_client.py). The launcher hands the worker its
arguments, environment, working directory and stdin/stdout/stderr, so dbt's JSON log lines go
into the pipe dagster-dbt reads. The worker runs the command with `dbtRunner` and the manifest
it parsed, and answers with dbt's exit code (0, 1 for failed nodes, 2 for an error, as the
executable). It takes commands one after another: the build, then (after a home's full
build) `dbt docs generate`, which dbt parses itself as from the executable.

Only for runs executed by the process that started the worker (`mhbench run`). A worker that
is not ready yet makes the step wait (the CLI itself opened the socket); one that is gone or
never started leaves the step with dbt's own executable; a parse that failed leaves dbt to
parse (and report) itself. The worker ends when the dbt step is done with it
(`DbtWorker.close`), when the CLI process ends (atexit, or its parent gone), or when a
launcher goes away before its command ended (stopped by dagster-dbt or the dead-run reclaim),
which stops dbt as SIGTERM stops the executable. Light to import: no dagster, no dbt.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from orchestration.dbt_manifest import (
    DBT_PROJECT_DIR,
    dbt_env,
    dbt_executable,
    keep_parse_state,
    parse_report,
    parse_state,
    release_kind_vars,
    reuse_parse_state,
)
from orchestration.dbt_worker_client import ACCEPTED, EXIT, HEADER
from runtime.home import Home
from runtime.processes import process_alive, stop_child

WORKER_PREFIX = ".worker-"  # the worker's folder in warehouse/dbt-parse/, while it runs
SOCKET_PREFIX = "mhbench-dbt-"  # its private folder (socket, launcher) in the temp folder
# A Unix socket's path holds at most 107 bytes: with a longer temp folder, no worker.
MAX_SOCKET_PATH = 100
REPORT = "report.json"

_started: dict[tuple[str, str], DbtWorker] = {}
_lock = threading.Lock()


@dataclass
class DbtWorker:
    process: subprocess.Popen
    folder: Path  # warehouse/dbt-parse/.worker-<kind>-<pid>: the parse and the worker's log
    private: Path  # the socket and the launcher

    @property
    def executable(self) -> str:
        """The `dbt` to give dagster-dbt: the launcher that hands its command to the worker."""
        return str(self.private / "dbt")

    def report(self) -> str:
        """What the worker did before the command came (for the dbt step's log)."""
        try:
            report = json.loads((self.folder / REPORT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # the launcher found no worker to take the command and ran dbt's executable
            return (
                "dbt ran as its own executable: the worker `mhbench run` started ahead ended "
                "before the step's command came"
            )
        waited = max(0.0, report["ready_at"] - report["asked_at"])
        timing = (
            f"the step waited {waited:.1f} s for it"
            if waited >= 0.05
            else f"ready {report['asked_at'] - report['ready_at']:.1f} s before the step"
        )
        return (
            "dbt ran in the worker `mhbench run` started ahead: dbt-core imported in "
            f"{report['import_s']:.1f} s, then {report['parse']} in {report['parse_s']:.1f} s; "
            + timing
        )

    def kept_a_parse(self) -> bool:
        """Whether the worker's parse, which its first command (the build) ran on, is the one
        kept for the home. The build then parses nothing, and its target folder holds only
        what was put there before it: dagster-dbt copies dbt_project/target's partial parse
        (`make setup`'s, another home's profile and no vars) when the home kept none yet, and
        keeping that would make every later build of the kind parse the whole project."""
        try:
            report = json.loads((self.folder / REPORT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(report.get("kept"))

    def close(self) -> None:
        """Stop the worker if it still runs; remove its folders."""
        stop_child(self.process, grace_seconds=10)
        shutil.rmtree(self.private, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _key(home: Home, release_kind: str) -> tuple[str, str]:
    return (str(home.root.resolve()), release_kind)


def start_dbt_worker(home: Home, release_kind: str) -> DbtWorker | None:
    """Start the dbt worker for this process's build of `release_kind` in `home`; None when
    one runs already or it cannot be started (the dbt step then runs dbt itself)."""
    if not hasattr(socket, "send_fds"):
        return None
    with _lock:
        if _key(home, release_kind) in _started:
            return None
        _clear_leftovers(home.dbt_parse_state, Path(tempfile.gettempdir()))
        private = Path(tempfile.mkdtemp(prefix=f"{SOCKET_PREFIX}{os.getpid()}-"))  # mode 0700
        socket_path = private / "dbt.sock"
        folder = home.dbt_parse_state / f"{WORKER_PREFIX}{release_kind}-{os.getpid()}"
        if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
            shutil.rmtree(private, ignore_errors=True)
            return None
        folder.mkdir(parents=True, exist_ok=True)
        launcher = private / "dbt"
        launcher.write_text(
            "#!/bin/sh\nexec "
            + shlex.join(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(Path(__file__).with_name("dbt_worker_client.py")),
                    str(socket_path),
                    dbt_executable(),
                ]
            )
            + ' "$@"\n'
        )
        launcher.chmod(0o700)
        state = parse_state(home.dbt_parse_state, release_kind)
        # listening from now on: a command given before the worker is ready waits for it
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(socket_path))
            listener.listen(1)
            with open(folder / "worker.log", "wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "orchestration.dbt_worker"]
                    + [str(listener.fileno()), str(os.getpid()), str(folder), str(state)]
                    + [release_kind],
                    cwd=DBT_PROJECT_DIR,
                    env=dbt_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(listener.fileno(),),
                )
        except OSError:
            shutil.rmtree(private, ignore_errors=True)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        finally:
            listener.close()  # the worker's now: should it end, a waiting launcher is told
        worker = DbtWorker(process, folder, private)
        _started[_key(home, release_kind)] = worker
    atexit.register(worker.close)
    return worker


def take_dbt_worker(home: Home, release_kind: str) -> DbtWorker | None:
    """For the dbt step: the worker this process started for `home` and the kind, once (None
    under `dagster dev`, or when it is gone)."""
    with _lock:
        worker = _started.pop(_key(home, release_kind), None)
    if worker is None or worker.process.poll() is not None:
        return None
    return worker


def _clear_leftovers(parse_folder: Path, temp: Path) -> None:
    """Remove the folders of workers whose CLI is gone (killed), and those of the parses the
    previous version made ahead (`.ahead-<kind>-<pid>`)."""
    for pattern, folder, pid_of in (
        (f"{WORKER_PREFIX}*", parse_folder, lambda name: name.rsplit("-", 1)[-1]),
        (".ahead-*", parse_folder, lambda name: name.rsplit("-", 1)[-1]),
        (f"{SOCKET_PREFIX}*", temp, lambda name: name[len(SOCKET_PREFIX) :].split("-", 1)[0]),
    ):
        if not folder.is_dir():
            continue
        for leftover in folder.glob(pattern):
            pid = pid_of(leftover.name)
            if pid.isdigit() and not process_alive(int(pid), None):
                shutil.rmtree(leftover, ignore_errors=True)


# ------------------------------------------------------------------------- the worker itself


def _end_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


def _end_when_closed(connection: socket.socket, done: threading.Event) -> None:
    """The launcher went away before its command ended (stopped): so does dbt."""
    try:
        while connection.recv(1):
            pass
    except OSError:
        pass
    if not done.is_set():
        os._exit(3)


def _prepare(folder: Path, state: Path, kind: str):
    """Import dbt-core and parse the project from the home's kept parse: the manifest, or None
    (the build then parses itself). Writes what it did into the folder's report."""
    started = time.perf_counter()
    from dbt.cli.main import dbtRunner

    imported = time.perf_counter()
    target = folder / "parse"
    kept = state.is_file()
    reuse_parse_state(state, target)
    manifest, parse = None, "the parse failed (dbt parses again in the build)"
    try:
        result = dbtRunner().invoke(
            [
                "parse",
                "--quiet",
                "--vars",
                release_kind_vars(kind),
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(target),
                "--log-path",
                str(target),
            ]
        )
    except Exception:  # noqa: BLE001 - dbt parses again in the build, and says why there
        traceback.print_exc()
    else:
        if result.success:
            manifest = result.result
            keep_parse_state(target, state)
            parse = (
                parse_report(target).replace("dbt ", "", 1)
                if kept
                else "parsed the whole project (the home kept no parse of this kind)"
            )
    return manifest, {
        "import_s": imported - started,
        "parse_s": time.perf_counter() - imported,
        "parse": parse,
        "kept": manifest is not None,  # this parse is the home's now (see DbtWorker.kept_a_parse)
        "ready_at": time.time(),
    }


def _receive(connection: socket.socket) -> dict:
    header, fds, _, _ = socket.recv_fds(connection, HEADER.size, 3)
    while len(header) < HEADER.size:
        header += connection.recv(HEADER.size - len(header))
    (size,) = HEADER.unpack(header)
    payload = b""
    while len(payload) < size:
        chunk = connection.recv(min(size - len(payload), 1 << 16))
        if not chunk:
            raise ConnectionError("the launcher went away")
        payload += chunk
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    return json.loads(payload)


def _let_go_of_stdio() -> None:
    """Between commands, no launcher's pipes: /dev/null, as at start."""
    null = os.open(os.devnull, os.O_RDWR)
    for number in (0, 1, 2):
        os.dup2(null, number)
    os.close(null)


def _let_go_of_the_warehouse() -> None:
    """Close the database dbt-duckdb keeps open between invocations (its `keep_open`): the
    executable lets go of it by exiting, and the dbt step reads and writes the warehouse as
    soon as dbt is done."""
    import gc

    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing kept open that we know of
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None and hasattr(environment, "close"):
        environment.close()
    gc.collect()


def _run(command: dict, manifest) -> int:
    from dbt.cli.exceptions import DbtInternalException, DbtUsageException
    from dbt.cli.main import dbtRunner

    os.chdir(command["cwd"])
    os.environ.clear()
    os.environ.update(command["env"])
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, write_through=True)
    try:
        result = dbtRunner(manifest=manifest).invoke(command["argv"])
    except BaseException:  # noqa: BLE001 - the executable would print it and exit 2
        traceback.print_exc()
        return 2
    if result.success:
        return 0
    if isinstance(result.exception, (DbtUsageException, DbtInternalException)):
        # what the executable prints (click's usage error); dbt logged other errors itself
        print(f"Error: {result.exception}", file=sys.stderr)
    return 1 if result.exception is None else 2


def serve(listening: int, parent: int, folder: Path, state: Path, kind: str) -> None:
    """Prepare, then run the commands launchers give on the socket `listening` (a file
    descriptor the CLI, process `parent`, passed), one after another, until stopped."""
    listener = socket.socket(fileno=listening)
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    manifest, report = _prepare(folder, state, kind)
    while True:
        connection, _ = listener.accept()
        with connection:
            command = _receive(connection)
            if "asked_at" not in report:  # the first command: the one the parse was for
                report["asked_at"] = command.get("sent_at", time.time())
                (folder / REPORT).write_text(json.dumps(report), encoding="utf-8")
            connection.sendall(ACCEPTED)
            done = threading.Event()
            threading.Thread(target=_end_when_closed, args=(connection, done), daemon=True).start()
            # the parse made ahead is the first command's; dbt parses for the next ones
            code, manifest = _run(command, manifest), None
            _let_go_of_the_warehouse()
            sys.stdout.flush()
            sys.stderr.flush()
            done.set()
            _let_go_of_stdio()
            connection.sendall(EXIT.pack(code))


if __name__ == "__main__":
    listening, parent, folder, state, kind = sys.argv[1:]
    serve(int(listening), int(parent), Path(folder), Path(state), kind)
