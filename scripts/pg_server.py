"""A throwaway PostgreSQL server for development and the `pg` tests: Debian's own binaries.

`initdb` makes a cluster in a temporary folder and `pg_ctl` starts it on a free port of
127.0.0.1 (TCP only, no Unix socket, trust authentication: it is reachable from this
machine only and holds nothing worth a password). PostgreSQL refuses to run as root, and
CI runs as root: then the cluster belongs to, and runs as, the unprivileged `postgres`
user (`runuser -u postgres`), created when missing.

    python scripts/pg_server.py up      # `make pg-up`: start one, print its URL
    python scripts/pg_server.py down    # `make pg-down`: stop it and remove its folder
    python scripts/pg_server.py lake-catalog   # the DuckLake catalog's database (made if
                                               # missing): its URL, for MHBENCH_LAKE_CATALOG

The binaries are found on PATH, else in Debian's /usr/lib/postgresql/<version>/bin
(`apt-get install -y postgresql`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install -y postgresql"
SERVICE_USER = "postgres"  # who runs the server when we are root
SUPERUSER = "postgres"  # the cluster's superuser role
STATE_FILE = "server.json"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def find_bin_dir() -> Path:
    """The folder of `initdb` and `pg_ctl`: on PATH, else the newest Debian version's."""
    initdb = shutil.which("initdb")
    if initdb:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    raise PostgresMissing(
        f"PostgreSQL's server binaries (initdb, pg_ctl) are not installed ({INSTALL_HINT})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_root() -> bool:
    return os.geteuid() == 0


def _ensure_service_user() -> None:
    """The unprivileged user that runs the server when we are root (created when missing)."""
    if subprocess.run(["id", "-u", SERVICE_USER], capture_output=True).returncode == 0:
        return
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        check=True,
        capture_output=True,
    )


@dataclass
class PgServer:
    """One cluster in `root` (data/, server.log), served on 127.0.0.1:`port`."""

    root: Path
    port: int
    bin_dir: Path
    init_seconds: float = 0.0
    start_seconds: float = 0.0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """libpq's URL (psql, pg_dump, psycopg2)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dagster_url(self, database: str) -> str:
        """The URL for MHBENCH_DAGSTER_PG: SQLAlchemy's, naming the psycopg2 driver."""
        return self.url(database).replace("postgresql://", "postgresql+psycopg2://", 1)

    @classmethod
    def create(cls, root: Path | None = None, port: int | None = None) -> PgServer:
        """initdb a new cluster (in a new temporary folder unless `root` is given)."""
        bin_dir = find_bin_dir()
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="mhbench-pg-"))
        root.mkdir(parents=True, exist_ok=True)
        if _as_root():
            _ensure_service_user()
            shutil.chown(root, user=SERVICE_USER)
        server = cls(root=root, port=port or free_port(), bin_dir=bin_dir)
        started = time.monotonic()
        server._pg(
            "initdb",
            "-D",
            str(server.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        server.init_seconds = time.monotonic() - started
        return server

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / program), *args]
        if _as_root():
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        completed = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120
        )
        if check and completed.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({completed.returncode}):\n"
                f"{completed.stdout}{completed.stderr}{log}"
            )
        return completed

    def start(self) -> float:
        """Start the server and wait until it accepts connections; the seconds it took."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            # a throwaway cluster: durability is not worth the disk flushes
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        started = time.monotonic()
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.start_seconds = time.monotonic() - started
        return self.start_seconds

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        """A fast restart: every open connection is dropped."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "restart")

    def is_running(self) -> bool:
        return self._pg("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg2

        con = psycopg2.connect(self.url(), connect_timeout=10)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'create database "{name}"')
        finally:
            con.close()
        return self.url(name)

    def ensure_database(self, name: str) -> str:
        """The database `name`, created when missing; its URL."""
        import psycopg2

        con = psycopg2.connect(self.url(), connect_timeout=10)
        try:
            with con.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", [name])
                missing = cur.fetchone() is None
        finally:
            con.close()
        return self.create_database(name) if missing else self.url(name)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def save(self) -> None:
        (self.root / STATE_FILE).write_text(
            json.dumps({"port": self.port, "bin_dir": str(self.bin_dir)})
        )

    @classmethod
    def load(cls, root: Path) -> PgServer:
        state = json.loads((root / STATE_FILE).read_text())
        return cls(root=root, port=state["port"], bin_dir=Path(state["bin_dir"]))


DEV_ROOT = Path(tempfile.gettempdir()) / "mhbench-pg"  # `make pg-up`'s server
DEV_DATABASE = "mhbench"
LAKE_DATABASE = "mhbench_lake"  # the DuckLake catalog of `make demo-lake`, on the same server


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    root = Path(os.environ.get("MHBENCH_PG_DIR") or DEV_ROOT)
    if command == "up":
        if (root / STATE_FILE).exists() and PgServer.load(root).is_running():
            server = PgServer.load(root)
            print(f"already running: export MHBENCH_DAGSTER_PG={server.dagster_url(DEV_DATABASE)}")
            return 0
        shutil.rmtree(root, ignore_errors=True)
        try:
            server = PgServer.create(root)
        except PostgresMissing as exc:
            print(exc, file=sys.stderr)
            return 1
        server.start()
        server.save()
        server.create_database(DEV_DATABASE)
        print(
            f"PostgreSQL {server.bin_dir.parent.name} in {root} on 127.0.0.1:{server.port} "
            f"(initdb {server.init_seconds:.1f} s, start {server.start_seconds:.1f} s)\n"
            f"export MHBENCH_DAGSTER_PG={server.dagster_url(DEV_DATABASE)}"
        )
        return 0
    if command == "url":
        print(PgServer.load(root).dagster_url(DEV_DATABASE))
        return 0
    if command == "lake-catalog":
        print(PgServer.load(root).ensure_database(LAKE_DATABASE))
        return 0
    if command == "down":
        if not (root / STATE_FILE).exists():
            print(f"no server in {root}")
            return 0
        PgServer.load(root).remove()
        print(f"stopped and removed {root}")
        return 0
    if command == "status":
        running = (root / STATE_FILE).exists() and PgServer.load(root).is_running()
        server = PgServer.load(root) if running else None
        print(f"running: {server.dagster_url(DEV_DATABASE)}" if server else "not running")
        return 0 if running else 1
    print(f"usage: {argv[0]} up|down|status|url|lake-catalog", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
