"""The `dbt` that the dbt step runs when `mhbench run` started a dbt worker
(orchestration/dbt_worker.py): it hands its command to that worker and exits with dbt's code.

    python -I -S dbt_worker_client.py SOCKET REAL_DBT [dbt arguments...]

dagster-dbt starts it as it would start `dbt`: it reads dbt's JSON log lines from its stdout,
stops it with SIGTERM, and waits for its exit code. The client passes its stdin, stdout and
stderr, working directory, environment and arguments to the worker over the Unix socket
SOCKET, so dbt writes into the pipe dagster-dbt reads, and waits for the exit code. Should it
die (SIGTERM from dagster-dbt or from the dead-run reclaim), the worker sees the socket close
and ends too, stopping dbt as SIGTERM stops the dbt executable.

When no worker takes the command (it never started listening, or ended first), the client
becomes REAL_DBT with the same arguments: dbt runs as it does without a worker. Unless the
process that started the client is gone (the run was killed, and the worker ended with it):
then no dbt is started for a run that no longer exists. Standard
library only, and started with `-I -S`: it costs ~20 ms.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time

HEADER = struct.Struct("!Q")  # the length of the request that follows the header
EXIT = struct.Struct("!i")  # the worker's answer: dbt's exit code
ACCEPTED = b"+"  # the worker's first answer: it runs the command


def request(argv: list[str]) -> bytes:
    command = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "sent_at": time.time()}
    payload = json.dumps(command)
    return payload.encode()


def main(args: list[str]) -> int:
    socket_path, real_dbt, argv = args[0], args[1], args[2:]
    parent = os.getppid()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with connection:
        payload = request(argv)
        try:
            connection.connect(socket_path)
            socket.send_fds(connection, [HEADER.pack(len(payload))], [0, 1, 2])
            connection.sendall(payload)
            accepted = connection.recv(len(ACCEPTED)) == ACCEPTED
        except OSError:
            accepted = False
        if not accepted:  # no worker, or it ended before it took the command: dbt itself
            connection.close()
            if os.getppid() != parent:
                print("mhbench: the run that started dbt is gone; dbt not started", file=sys.stderr)
                return 2
            os.execv(real_dbt, [real_dbt, *argv])
        answer = b""
        while len(answer) < EXIT.size:
            chunk = connection.recv(EXIT.size - len(answer))
            if not chunk:
                print("mhbench: the dbt worker ended before dbt did", file=sys.stderr)
                return 2
            answer += chunk
    return EXIT.unpack(answer)[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
