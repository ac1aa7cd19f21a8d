"""The gate's kept validations (expectations/kept_validations.py): real Great Expectations on
a hand-made DuckDB mart, no mocks. Rows validated before against the same suite take that
result, with the same outcome and a Data Docs page of this run; anything else changed is
validated again."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from expectations.kept_validations import KeptValidations, validation_key
from expectations.runner import load_suite_spec
from orchestration.defs.quality import KEPT_VALIDATION, gate_data_docs, run_gate_suites
from runtime.home import Home
from tests.integration.test_gx_data_docs import _text, gate_warehouse


@pytest.fixture
def home(tmp_path) -> Home:
    return gate_warehouse(tmp_path)


def _gate(home: Home, run: str) -> dict:
    marts = ["mart_benchmark", "dim_year"]
    site = gate_data_docs(home, run)
    kept = KeptValidations(home.gx_validation_cache)
    return run_gate_suites(home.warehouse, marts, site, kept=kept)


def _meta(result, name: str):
    return result.metadata[name].value


def test_unchanged_rows_take_the_kept_validation_with_the_same_outcome_and_a_page(home):
    first = _gate(home, "run-1")
    assert {m: _meta(r, "validated") for m, r in first.items()} == {
        "mart_benchmark": "in this run",
        "dim_year": "in this run",
    }
    with duckdb.connect(str(home.warehouse)) as con:  # one mart changes
        con.execute(
            "update marts.dim_year set deadline = deadline + 1 where collection_year = 2024"
        )

    again = _gate(home, "run-2")

    assert _meta(again["mart_benchmark"], "validated") == KEPT_VALIDATION
    assert _meta(again["dim_year"], "validated") == "in this run"
    # the kept validation is the failed one, failures and sample values included
    assert not again["mart_benchmark"].passed
    for name in ("failed_expectations", "expectations_evaluated", "expectations_failed"):
        assert _meta(again["mart_benchmark"], name) == _meta(first["mart_benchmark"], name)
    # its Data Docs page is in this run's site, under this run's name
    page = Path(_meta(again["mart_benchmark"], "data_docs"))
    assert page.is_relative_to(gate_data_docs(home, "run-2").site_dir)
    text = _text(page)
    assert "Status: Failed" in text and "Run Name run-2" in text and "IND_A 2023" in text


def test_a_kept_file_that_cannot_be_read_is_validated_again(home):
    _gate(home, "run-1")
    kept = sorted(home.gx_validation_cache.glob("*.json"))
    assert len(kept) == 2
    kept[0].write_text("{not json")
    kept[1].write_text('{"results": [{"not": "a GE result"}]}')

    again = _gate(home, "run-2")

    assert {_meta(r, "validated") for r in again.values()} == {"in this run"}
    assert not again["mart_benchmark"].passed and again["dim_year"].passed


def test_the_key_changes_with_every_value_column_type_and_the_suite():
    frame = pd.DataFrame(
        {"code": ["A", "B", None], "n": [1, 2, 3], "rate": [0.5, float("nan"), 1.0]}
    )
    spec = load_suite_spec("mart_benchmark")
    key = validation_key(frame, spec)
    assert validation_key(frame.copy(), spec) == key  # the same rows: the same key

    changed = [
        frame.assign(code=["A", "B", "C"]),  # a null filled
        frame.assign(code=["A", "B", "None"]),  # None and the text 'None'
        frame.assign(n=[1, 2, 4]),
        frame.assign(rate=[0.5, 0.0, 1.0]),  # NaN and 0
        frame.assign(n=[1.0, 2.0, 3.0]),  # the same numbers as another type
        frame.rename(columns={"n": "count"}),
        frame[["n", "code", "rate"]],  # the column order
        frame.iloc[[1, 0, 2]],  # the row order
        frame.iloc[:2],
        pd.DataFrame({"code": ["A\x1fB"], "n": [1], "rate": [1.0]}),
        pd.DataFrame({"code": [["A", "B"]], "n": [1], "rate": [1.0]}),  # a list in a cell
    ]
    # arrays in cells (DuckDB's lists) that numpy would print alike
    long = np.arange(2000)
    arrays = [
        pd.DataFrame({"code": [value], "n": [1], "rate": [1.0]})
        for value in (long, long + (long == 1000))
    ]
    assert validation_key(arrays[0], spec) != validation_key(arrays[1], spec)
    keys = {validation_key(other, spec) for other in changed}
    assert key not in keys and len(keys) == len(changed)
    other_suite = {**spec, "expectations": spec["expectations"][:-1]}
    assert validation_key(frame, other_suite) != key


def test_a_cache_that_cannot_be_written_costs_the_validation_not_the_gate(home):
    home.gx_validation_cache.parent.mkdir(parents=True, exist_ok=True)
    home.gx_validation_cache.write_text("a file where the cache's folder should be")
    first = _gate(home, "run-1")
    again = _gate(home, "run-2")
    assert {_meta(r, "validated") for r in again.values()} == {"in this run"}
    assert not first["mart_benchmark"].passed and not again["mart_benchmark"].passed
    cache = KeptValidations(home.gx_validation_cache)
    assert cache.get("0" * 64) is None and cache.misses == 1
