"""The workbook writer: typed cells, text never a formula, lists flattened, README sheet.

Workbooks are written for real (XlsxWriter) and read back with openpyxl, which tells a
formula cell (data_type 'f') from a string cell ('s'), and with calamine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from publishing.xlsx_export import (
    Readme,
    Sheet,
    flatten,
    read_sheet,
    write_workbook,
)

FORMULA_LIKE = ["=1+1", "+SUM(A1)", "-3", "@SUM(A1)", '=HYPERLINK("http://x","y")', "'quoted"]


def _read(path, sheet: str):
    wb = openpyxl.load_workbook(path)  # not data_only: a formula would stay a formula
    return wb[sheet]


def test_text_that_looks_like_a_formula_is_stored_as_that_text(tmp_path):
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet("t", ("text",), [(t,) for t in FORMULA_LIKE])], None)
    ws = _read(path, "t")
    cells = [row[0] for row in ws.iter_rows(min_row=2)]
    assert [c.value for c in cells] == FORMULA_LIKE
    assert [c.data_type for c in cells] == ["s"] * len(FORMULA_LIKE)
    # and calamine (what pandas and polars read xlsx with) sees the same strings
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("t").to_python()
    assert [r[0] for r in rows[1:]] == FORMULA_LIKE


def test_columns_are_typed_and_missing_is_empty(tmp_path):
    path = tmp_path / "w.xlsx"
    rows = [
        (1, 2.5, Decimal("3.25"), True, date(2024, 3, 31), datetime(2024, 4, 1, 9, 30, tzinfo=UTC)),
        (None, float("nan"), None, None, None, None),
    ]
    write_workbook(path, [Sheet("t", ("i", "f", "d", "b", "day", "at"), rows)], None)
    ws = _read(path, "t")
    first, second = ([c.value for c in r] for r in ws.iter_rows(min_row=2, max_row=3))
    assert first == [1, 2.5, 3.25, True, datetime(2024, 3, 31), datetime(2024, 4, 1, 9, 30)]
    assert [c.data_type for c in next(ws.iter_rows(min_row=2))][:4] == ["n", "n", "n", "b"]
    assert second == [None] * 6


def test_header_is_frozen_and_filtered(tmp_path):
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet("t", ("a", "b"), [(1, "x"), (2, "y"), (3, "z")])], None)
    ws = _read(path, "t")
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:B4"
    assert [c.font.b for c in ws[1]] == [True, True]


def test_lists_and_structs_from_duckdb_are_flattened_as_text(tmp_path):
    """A LIST of STRUCT column, as mart_lines_of_enquiry's `peers`, read from a real DuckDB."""
    with duckdb.connect() as con:
        con.execute(
            "create table t as select 'SE' as participant_code, "
            "[{'participant_code': 'NO', 'distance': 1.2}, "
            "{'participant_code': 'GB-ENG', 'distance': 3.4}] as peers, "
            "['a', 'b'] as tags, {'x': 1} as one"
        )
        sheet = read_sheet(con, "select * from t", "t")
    path = tmp_path / "w.xlsx"
    write_workbook(path, [sheet], None)
    ws = _read(path, "t")
    assert [c.value for c in ws[2]] == ["SE", "NO (1.2); GB-ENG (3.4)", "a; b", "1"]
    assert {c.data_type for c in ws[2]} == {"s"}


def test_flatten_nests():
    assert flatten([{"a": "X", "b": [1, 2]}, None]) == "X (1; 2); "
    assert flatten({"only": None}) == ""


def test_control_characters_are_kept_visible_and_the_write_never_fails(tmp_path):
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet("t", ("c",), [("a\x00b\x1fc\td",)])], None)
    assert _read(path, "t")["A2"].value == "a\\x00b\\x1fc\td"


def test_readme_sheet_first_then_the_tables(tmp_path):
    readme = Readme(
        title="mhbench release R1",
        facts=[("Release", "R1")],
        sheets=[("mart_benchmark", "Benchmarks.")],
        flags=[("E", "estimated", "An estimate.")],
        disclosure="Counts of 1 to 7 are suppressed.",
    )
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet("mart_benchmark", ("n",), [(1,)])], readme)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["README", "mart_benchmark"]
    text = [c.value for row in wb["README"].iter_rows() for c in row if c.value]
    assert text[0] == "mhbench release R1"
    for expected in ("R1", "Benchmarks.", "estimated: An estimate.", "Flags"):
        assert expected in text
    assert "Counts of 1 to 7 are suppressed." in text


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    long = "x" * 40
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet(n, ("a",), [(1,)]) for n in (long, long, "a/b", "README")], None)
    names = openpyxl.load_workbook(path).sheetnames
    assert names == ["x" * 31, "x" * 29 + "~2", "a_b", "README~2"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)))
def test_any_text_reads_back_as_the_same_string(tmp_path, texts):
    path = tmp_path / "h.xlsx"
    write_workbook(path, [Sheet("t", ("text",), [(t,) for t in texts])], None)
    ws = _read(path, "t")
    back = [row[0] for row in ws.iter_rows(min_row=2)]
    # an empty string is an empty cell
    assert [c.value or "" for c in back] == texts
    assert all(c.data_type == "s" for c in back if c.value is not None)


@pytest.mark.parametrize("value", FORMULA_LIKE)
def test_write_to_a_stream(value):
    import io

    buffer = io.BytesIO()
    write_workbook(buffer, [Sheet("t", ("v",), [(value,)])], None)
    buffer.seek(0)
    assert openpyxl.load_workbook(buffer)["t"]["A2"].value == value


def test_the_release_workbook_process_writes_the_marts_and_its_failure_is_an_error(tmp_path):
    from publishing.workbook_process import start_release_workbook
    from runtime.module_process import ProcessFailed

    db = tmp_path / "release.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_benchmark as select 'SE' as p, 1.5 as v")
    readme = Readme(title="mhbench release R1", facts=[("Release", "R1")])
    path = tmp_path / "r1.xlsx"
    job = start_release_workbook(db, path, ["mart_benchmark"], readme)
    assert job.wait() == str(path)  # its answer: the workbook written
    job.stop()
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["README", "mart_benchmark"]
    assert [[c.value for c in row] for row in wb["mart_benchmark"].iter_rows()] == [
        ["p", "v"],
        ["SE", 1.5],
    ]
    assert "mhbench release R1" in [c.value for row in wb["README"].iter_rows() for c in row]

    # a mart the release does not hold: the process fails, and the error says what it said
    failing = start_release_workbook(db, tmp_path / "r2.xlsx", ["mart_missing"], readme)
    with pytest.raises(
        ProcessFailed, match=r"r2.xlsx failed: CatalogException: .*mart_missing does not exist"
    ):
        failing.wait()
    failing.stop()
    assert not (tmp_path / "r2.xlsx").exists()
