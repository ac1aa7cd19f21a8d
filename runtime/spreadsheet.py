"""The one home of the spreadsheet formula rule.

Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets when a CSV is opened. Everything the platform writes
for people to open in a spreadsheet (release CSVs, every CSV of the CLI) prefixes such text
with a single quote, so it shows as text and never runs. Returns are untrusted: a comment
such as `=HYPERLINK(...)` must stay text.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The same rule for DuckDB's regexp_matches, used when a release CSV is written in SQL.
FORMULA_START_SQL_PATTERN = r"^[=+\-@\t\r]"


def formula_safe(value: object) -> object:
    """`value`, with a leading quote if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
