"""One DuckDB transaction: every write in it lands, or none does, and its error is the one
raised. Used by every stage that writes the warehouse in steps that belong together."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def transaction(con) -> Iterator[None]:
    """Begin a transaction on `con`; commit it when the block ends, roll it back when the
    block (or the commit) raises.

    The block's error is the one raised. Should the rollback fail too (the connection was
    invalidated by that error, or the transaction had already ended), the rollback's error
    becomes a note on it rather than taking its place: what went wrong first is what the
    user reads."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException as error:
        try:
            con.rollback()
        except Exception as rollback_error:  # noqa: BLE001 - reported on the first error
            error.add_note(
                f"the rollback failed too ({type(rollback_error).__name__}: {rollback_error})"
            )
        raise
