"""Numbers typed by people: accept a text only when it can mean one number.

A return is filled in by people in many countries. A number cell is always fine;
a number stored as *text* (a CSV field, or an Excel cell formatted as text) is
accepted only when there is no doubt about what it means:

- a point is the decimal separator: `1234.5`, `.5`, `1.234` (one point and five
  thousandths);
- a comma is a thousands separator, and only between groups of exactly three
  digits after a first group of one to three digits: `1,234`, `1,234,567.5`;
- surrounding whitespace and a leading sign are allowed.

Scientific notation (`2.12842E+11`, `1.5e3`, R's `1e+05`) is rejected: it is what
Excel writes for a General-format number when it saves a CSV, rounded to 6
significant digits (212841898000 becomes 2.12842E+11, 102,000 off), and what R
writes for round numbers; the figure as typed is lost, so the message says how
to send it exactly. A number cell of a workbook is a real number and never comes
here.

Anything else that consists of digits, points and commas is ambiguous and is
rejected with a reason (`12,5` may be 12.5 or 125; `1.234,5` is a decimal
comma). No message suggests deleting a comma that could be a decimal comma:
it says to use a point. Where commas mark decimals (a `;`-separated CSV, as
Excel writes in those countries), every comma is rejected that way. Percent
signs, currency symbols, `inf`/`nan`, spaces inside the number and other text
are rejected as well, each with its own code.
"""

from __future__ import annotations

import math
import re
import unicodedata

# One number the way this module accepts it (after the sign has been removed).
_ACCEPTED = re.compile(
    r"""
    (?: \d+ | [1-9]\d{0,2}(?:,\d{3})+ )   # integer part, optionally grouped by 3
    (?: \.\d* )?                           # decimals
    | \.\d+                                # or only decimals: .5
    """,
    re.VERBOSE | re.ASCII,
)
_EXPONENT = re.compile(r"[eE][+-]?\d+", re.ASCII)
_DIGITS_AND_SEPARATORS = re.compile(r"[\d.,]+", re.ASCII)
_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}\s*[-+\d.,]|[\d.,]\s*[A-Za-z]{3}$")
_NON_FINITE_WORDS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"}
_MINUS_SIGNS = "-\u2212\u2013"  # hyphen-minus, minus sign, en dash (typed by autocorrect)

EXPECTED = "a number such as 1234 or 1234.5 (a point for decimals)"
# How to send a figure exactly, from Excel and from R (quoted by the scientific notation
# message and by the CSV reader's rule on R's NA).
EXCEL_CSV_HINT = "format the column as Number before saving as CSV, or send the workbook (.xlsx)"
R_CSV_HINT = 'from R, set options(scipen = 999) and write the file with write.csv(..., na = "")'
SCIENTIFIC_NOTATION = (
    "is in scientific notation, so digits may have been lost: Excel rounds a General-format "
    "number to 6 digits when it saves a CSV (212841898000 becomes 2.12842E+11) — "
    f"{EXCEL_CSV_HINT}; {R_CSV_HINT}"
)


class NumberError(ValueError):
    """A text that is not accepted as a number.

    code: `ambiguous_number`, `scientific_notation`, `not_a_number`, `percent_sign`,
        `currency_symbol` or `non_finite`.
    reason: what is wrong, in words for the person who typed it (no place, no
        value prefix), e.g. `is ambiguous — use a point for decimals (12.5)`.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def show_number(value: float) -> str:
    """A float as a person would write it: `12` not `12.0`, `0.1` not `0.1000...01`."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def parse_number(text: str, *, decimal_comma: bool = False) -> float:
    """The number a text stands for, or NumberError saying why it is not accepted.

    decimal_comma: the text comes from where a comma marks decimals (a `;`-separated CSV),
    so no comma is read as a thousands separator.

    >>> parse_number(" 1,234,567.5 ")
    1234567.5
    """
    body = text.strip()
    if not body:
        raise NumberError("not_a_number", "is empty — expected a number")
    sign = ""
    if body[0] in "+" + _MINUS_SIGNS:
        sign = "-" if body[0] in _MINUS_SIGNS else ""
        body = body[1:]
    mantissa, exponent = body, ""
    match = _EXPONENT.search(body)
    if match and match.end() == len(body) and match.start() > 0:
        mantissa, exponent = body[: match.start()], match.group()

    if _ACCEPTED.fullmatch(mantissa) and exponent:
        raise NumberError("scientific_notation", SCIENTIFIC_NOTATION)
    if decimal_comma and "," in mantissa and _DIGITS_AND_SEPARATORS.fullmatch(mantissa):
        raise NumberError("ambiguous_number", _decimal_comma(sign, mantissa))
    if _ACCEPTED.fullmatch(mantissa):
        value = float(sign + mantissa.replace(",", ""))
        if not math.isfinite(value):
            raise NumberError("non_finite", "is too large to be a number")
        return value + 0.0  # -0.0 becomes 0.0
    raise _why_not(text.strip(), sign, mantissa, exponent)


def _why_not(text: str, sign: str, mantissa: str, exponent: str) -> NumberError:
    """The most helpful NumberError for a text that is not an accepted number."""
    if _DIGITS_AND_SEPARATORS.fullmatch(mantissa) and any(c in "0123456789" for c in mantissa):
        return NumberError("ambiguous_number", _ambiguity(sign, mantissa, exponent))
    lowered = text.lower()
    if lowered in _NON_FINITE_WORDS:
        return NumberError("non_finite", "is not a finite number — expected a number")
    if "%" in text:
        stripped = text.replace("%", "").strip()
        return NumberError(
            "percent_sign",
            f"contains a percent sign — enter the number only ({stripped})",
        )
    if any(unicodedata.category(c) == "Sc" for c in text) or _CURRENCY_CODE.search(text):
        return NumberError(
            "currency_symbol",
            "contains a currency symbol or code — enter the amount only, in the currency "
            "given on the About sheet",
        )
    if any(c.isspace() for c in mantissa) and all(
        c.isdigit() or c.isspace() or c in ".," for c in mantissa
    ):
        return NumberError(
            "not_a_number",
            "contains spaces — write the number without spaces"
            f" ({sign}{''.join(mantissa.split())}{exponent})",
        )
    if text.startswith("(") and text.endswith(")"):
        return NumberError("not_a_number", "is in brackets — expected a number without brackets")
    if text.upper() in ("NA", "NK", "N/A", "N.A.", "-", "--"):
        return NumberError(
            "not_a_number",
            "is not a number — leave the value blank and put NA (not applicable) or NK "
            "(not known) in the flag column",
        )
    if text.upper() in ("E", "P", "B", "D"):
        return NumberError(
            "not_a_number",
            "is a flag, not a number — put the flag in the flag column and the number here",
        )
    return NumberError("not_a_number", f"is not a number — expected {EXPECTED}")


def _ambiguity(sign: str, mantissa: str, exponent: str) -> str:
    """Why a text of digits, points and commas is not accepted."""
    commas, points = mantissa.count(","), mantissa.count(".")
    if points > 1 and commas == 0:
        joined = sign + mantissa.replace(".", "") + exponent
        return f"is ambiguous — a point can only mark decimals; for thousands write {joined}"
    if commas and points and mantissa.rfind(",") > mantissa.find("."):
        european = sign + mantissa.replace(".", "").replace(",", ".") + exponent
        return (
            "is ambiguous — it looks like a comma for decimals and a point for thousands; "
            f"write {european}"
        )
    if commas == 1 and points == 0:
        as_decimal = sign + mantissa.replace(",", ".") + exponent
        return f"is ambiguous — use a point for decimals ({as_decimal})"
    return (
        "is ambiguous — commas may only separate thousands in groups of three (1,234,567); "
        "use a point for decimals"
    )


def _decimal_comma(sign: str, mantissa: str) -> str:
    """Why a number with a comma is not accepted where commas mark decimals."""
    if "." in mantissa and mantissa.rfind(",") > mantissa.find("."):
        return _ambiguity(sign, mantissa, "")  # 1.234,5: "write 1234.5"
    if mantissa.count(",") == 1 and "." not in mantissa:
        as_decimal = sign + mantissa.replace(",", ".")
        return (
            "has a comma, which marks decimals in a semicolon-separated file — use a point "
            f"for decimals ({as_decimal}) and no separator for thousands"
        )
    return (
        "has commas, which mark decimals in a semicolon-separated file — use a point for "
        "decimals and no separator for thousands"
    )
