"""Markdown previews for asset metadata and completeness files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, object]], limit: int = 20) -> str:
    """A markdown table of the first `limit` rows (all rows share the first row's keys)."""
    if not rows:
        return "_none_"
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows not shown_")
    return "\n".join(lines)
