"""Numbers typed as text: accepted only when they can mean one number."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ingestion.numbers import NumberError, parse_number, show_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", 1234.0),
        ("1234.5", 1234.5),
        (" 1,234 ", 1234.0),
        ("1,234,567.5", 1234567.5),
        ("0", 0.0),
        ("-0", 0.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("1.234", 1.234),  # a point is always the decimal separator
        ("+3", 3.0),
        ("-5", -5.0),  # parsed; the structure check rejects negative values
        ("\u22124", -4.0),  # the typographic minus sign
        ("\u00a012\u00a0", 12.0),  # non-breaking spaces around
    ],
)
def test_accepted(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "hint"),
    [
        ("12,5", "ambiguous_number", "use a point for decimals (12.5)"),
        ("5173,8", "ambiguous_number", "use a point for decimals (5173.8)"),
        ("2.12842E+11", "scientific_notation", "Excel rounds a General-format number to 6"),
        ("1.5e3", "scientific_notation", "format the column as Number"),
        ("2E-2", "scientific_notation", "send the workbook (.xlsx)"),
        ("1e+05", "scientific_notation", "options(scipen = 999)"),
        ("1.234,5", "ambiguous_number", "a comma for decimals and a point for thousands"),
        ("1,23", "ambiguous_number", "use a point for decimals (1.23)"),
        ("0,5", "ambiguous_number", "use a point for decimals (0.5)"),
        ("1,2345", "ambiguous_number", "use a point for decimals (1.2345)"),
        ("1,234,56", "ambiguous_number", "commas may only separate thousands"),
        ("1.234.567", "ambiguous_number", "for thousands write 1234567"),
        ("01,234", "ambiguous_number", "ambiguous"),
        ("12%", "percent_sign", "enter the number only (12)"),
        ("12 %", "percent_sign", "percent sign"),
        ("£ 12", "currency_symbol", "currency"),
        ("$5", "currency_symbol", "currency"),
        ("12 €", "currency_symbol", "currency"),
        ("12 EUR", "currency_symbol", "currency"),
        ("SEK 1000", "currency_symbol", "currency"),
        ("inf", "non_finite", "finite"),
        ("-Infinity", "non_finite", "finite"),
        ("nan", "non_finite", "finite"),
        ("1" + "0" * 400, "non_finite", "too large"),
        ("1e999", "scientific_notation", "scientific notation"),
        ("1 234", "not_a_number", "without spaces (1234)"),
        ("(5)", "not_a_number", "brackets"),
        ("NA", "not_a_number", "flag column"),
        ("E", "not_a_number", "is a flag, not a number"),
        ("twelve", "not_a_number", "expected a number"),
        ("1_000", "not_a_number", "expected a number"),
        ("0x10", "not_a_number", "expected a number"),
        ("\u0661\u0662", "not_a_number", "expected a number"),  # Arabic-Indic digits
        ("", "not_a_number", "empty"),
        ("-", "not_a_number", "NA (not applicable) or NK"),
    ],
)
def test_rejected_with_reason(text: str, code: str, hint: str) -> None:
    with pytest.raises(NumberError) as caught:
        parse_number(text)
    assert caught.value.code == code
    assert hint in caught.value.reason


@pytest.mark.parametrize(
    ("value", "text"), [(12.0, "12"), (0.1, "0.1"), (1234567.5, "1234567.5"), (1e20, "1e+20")]
)
def test_show_number(value: float, text: str) -> None:
    assert show_number(value) == text


finite = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
integers = st.integers(min_value=0, max_value=10**15)


@given(finite, st.sampled_from(["{:f}", " {:f} ", "{:,f}", "{:,f} "]), st.booleans())
@example(1234567.5, "{:,f}", False)
@example(5e-324, "{:f}", True)
@example(212841898000.0, "{:f}", False)
def test_unambiguous_floats_round_trip(value: float, form: str, negative: bool) -> None:
    """Every float written out in full (the shortest repr's digits, no exponent) reads back."""
    signed = -value if negative else value
    assert parse_number(form.format(Decimal(repr(signed)))) == signed + 0.0


@given(finite.filter(lambda v: v > 0), st.sampled_from(["{:e}", "{:E}", "{}"]))
@example(212841898000.0, "{:.5E}")  # Excel's General format in a CSV: 2.12842E+11
@example(100000.0, "{:.0e}")  # R's write.csv: 1e+05
def test_scientific_notation_is_always_rejected(value: float, form: str) -> None:
    text = form.format(value)
    if "e" not in text.lower():
        return  # repr wrote it out in full
    with pytest.raises(NumberError) as caught:
        parse_number(text)
    assert caught.value.code == "scientific_notation"


@given(integers, st.sampled_from(["{}", "{:,}", "{:,}.0", " {:,} "]))
def test_unambiguous_integers_round_trip(value: int, form: str) -> None:
    assert parse_number(form.format(value)) == float(value)


@given(
    st.integers(min_value=0, max_value=999),
    st.text(alphabet="0123456789", min_size=1, max_size=6).filter(lambda d: len(d) != 3),
)
def test_decimal_comma_is_ambiguous(whole: int, decimals: str) -> None:
    """`12,5`, `1,23`, `0,5000`: a comma not followed by exactly three digits."""
    with pytest.raises(NumberError) as caught:
        parse_number(f"{whole},{decimals}")
    assert caught.value.code == "ambiguous_number"


@given(
    st.integers(min_value=1, max_value=999),
    st.integers(min_value=0, max_value=999),
    st.text(alphabet="0123456789", min_size=1, max_size=3),
)
def test_point_thousands_with_decimal_comma_is_ambiguous(
    whole: int, group: int, decimals: str
) -> None:
    """`1.234,5` is a decimal comma with points for thousands."""
    with pytest.raises(NumberError) as caught:
        parse_number(f"{whole}.{group:03d},{decimals}")
    assert caught.value.code == "ambiguous_number"


@given(st.text(max_size=30))
def test_any_text_parses_or_is_rejected_with_a_known_code(text: str) -> None:
    try:
        value = parse_number(text)
    except NumberError as exc:
        assert exc.code in {
            "ambiguous_number",
            "scientific_notation",
            "not_a_number",
            "percent_sign",
            "currency_symbol",
            "non_finite",
        }
        assert exc.reason
    else:
        assert math.isfinite(value)
