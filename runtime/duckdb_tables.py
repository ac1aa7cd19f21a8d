"""Whether a DuckDB warehouse has a table: asked by every stage that reads one it may predate."""

from __future__ import annotations


def table_exists(con, schema: str, name: str) -> bool:
    """Whether the warehouse has this table or view."""
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )
