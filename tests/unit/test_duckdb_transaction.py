"""One DuckDB transaction (runtime/duckdb_transaction.py) on a real DuckDB file: all or none,
and the first error is the one raised."""

from __future__ import annotations

import duckdb
import pytest

from runtime.duckdb_transaction import transaction


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table t (k integer primary key)")
        yield con


def _keys(con) -> list[int]:
    return [k for (k,) in con.execute("select k from t order by k").fetchall()]


def test_the_writes_of_a_block_land_together(con):
    with transaction(con):
        con.execute("insert into t values (1)")
        con.execute("insert into t values (2)")
    assert _keys(con) == [1, 2]


def test_a_failing_block_writes_nothing_and_raises_its_own_error(con):
    with pytest.raises(duckdb.ConstraintException, match="duplicate key"), transaction(con):
        con.execute("insert into t values (1)")
        con.execute("insert into t values (1)")
    assert _keys(con) == []
    with transaction(con):  # the connection is usable again
        con.execute("insert into t values (3)")
    assert _keys(con) == [3]


def test_when_the_rollback_fails_too_the_first_error_is_raised_with_a_note(con):
    with pytest.raises(ValueError, match="the first error") as raised, transaction(con):
        con.execute("insert into t values (1)")
        con.commit()  # the transaction ends early: there is nothing left to roll back
        raise ValueError("the first error")
    [note] = raised.value.__notes__
    assert note.startswith("the rollback failed too (TransactionException:"), note
    assert _keys(con) == [1]
