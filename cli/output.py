"""Everything the mhbench command prints goes through here: tables, CSV, JSON, reports.

Untrusted text (values, comments and file names from returns) is printed as rich `Text`,
never as markup, so `[/]` in a return cannot break or restyle the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestion.report import shorten, sorted_issues

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ingestion.records import ParsedReturn


def render_text(parsed: ParsedReturn, filename: str | None = None) -> RenderableType:
    """A rich renderable for `mhbench validate FILE`: verdict line plus a table of issues."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    errors = len(parsed.errors)
    warnings = len(parsed.issues) - errors
    head = f"{filename}: " if filename else ""
    if errors:
        verdict = Text(f"{head}rejected: {errors} error(s), {warnings} warning(s)", "bold red")
    elif warnings:
        verdict = Text(f"{head}accepted with {warnings} warning(s)", "bold yellow")
    else:
        verdict = Text(f"{head}accepted: no issues", "bold green")
    verdict.append(f"  ({len(parsed.values)} value(s) read)", "dim")
    if not parsed.issues:
        return verdict
    table = Table(show_lines=False, header_style="bold")
    for name in ("severity", "place", "problem", "seen", "expected", "code"):
        table.add_column(name, overflow="fold")
    for i in sorted_issues(parsed.issues):
        style = "red" if i.severity == "error" else "yellow"
        # Text objects, not strings: untrusted values must not be read as rich markup.
        table.add_row(
            Text(i.severity, style),
            Text(i.place),
            Text(i.message),
            Text(shorten(i.value, 80)),
            Text(i.expected),
            Text(i.code, "dim"),
        )
    return Group(verdict, table)
