"""Where a PostgreSQL server is, as the errors name it: the Dagster instance's
(orchestration/instance.py) and the DuckLake catalog's (runtime/warehouse.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PgAddress:
    """Host, port and database of a server (never its user or password)."""

    host: str
    port: int
    database: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}, database {self.database}"
