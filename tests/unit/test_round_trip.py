"""A return written by the template writer is ingested back exactly (issues 2 and 3)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.sample_returns import about_block, build_rows, sample_values
from ingestion.check import check_return
from ingestion.dictionary import load_dictionary
from ingestion.template import write_return_workbook

DICTIONARY = load_dictionary()
ITEMS = sorted(DICTIONARY.items)

# Excel keeps 15 significant digits (openpyxl writes 16), so "any value" means any value a
# workbook can hold: floats rounded to 15 significant digits. Hypothesis found that a
# 17-digit float such as 2.3153950305212548e-269 comes back with its last digit dropped.
values = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False).map(
        lambda x: float(f"{x:.15g}")
    ),
)
# Comments: any printable text a person could type, formula-like starts included
# (=, +, -, @); surrounding whitespace is trimmed by design.
comments = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=200,
    )
    .map(str.strip)
    .filter(bool),
)
rows_strategy = st.lists(
    st.tuples(st.sampled_from(ITEMS), values, st.sampled_from([None, "E", "P", "B"]), comments),
    min_size=1,
    max_size=12,
    unique_by=lambda row: row[0],
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy)
def test_any_value_written_is_read_back_exactly(rows):
    # every mandatory item must be present: give the others a NK flag
    given_codes = {code for code, *_ in rows}
    filler = [
        {"item_code": code, "value": None, "flag": "NK", "comment": None}
        for code in ITEMS
        if code not in given_codes
    ]
    written = [{"item_code": c, "value": v, "flag": f, "comment": m} for c, v, f, m in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_return_workbook(
            Path(tmp) / "r.xlsx",
            about_block("NO", 2024, DICTIONARY),
            written + filler,
            DICTIONARY,
        )
        parsed = check_return(path, expected_year=2024, dictionary=DICTIONARY)
    assert parsed.errors == []
    read = {v.item_code: v for v in parsed.values}
    for code, value, flag, comment in rows:
        assert read[code].value == float(value)
        assert read[code].flag == flag
        assert read[code].comment == comment


def test_full_sample_return_round_trip(tmp_path):
    values = sample_values("SE", 2023)
    rows = build_rows("SE", 2023, values, DICTIONARY)
    path = write_return_workbook(
        tmp_path / "SE_2023.xlsx", about_block("SE", 2023, DICTIONARY), rows, DICTIONARY
    )
    parsed = check_return(path, expected_year=2023, dictionary=DICTIONARY)
    assert parsed.errors == []
    assert parsed.about["participant_code"] == "SE" and parsed.collection_year == 2023
    assert len(parsed.values) == len(rows) == len(DICTIONARY.items)
    for row, value in zip(rows, parsed.values, strict=True):
        assert value.item_code == row["item_code"]
        assert value.value == (None if row["value"] is None else float(row["value"]))
        assert value.flag == row["flag"]
        assert value.comment == row["comment"]
        assert value.place.startswith("Data!D")
