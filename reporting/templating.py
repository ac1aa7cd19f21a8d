"""The one Jinja2 environment that renders every HTML page of reporting/.

Pages are templates in `reporting/templates/` (a base layout, one template per page, and
partials whose names start with `_`). Autoescape is on, so untrusted text (return values,
comments, coverage notes, file names, participant names) is escaped by the engine and never
by hand; `StrictUndefined` turns a misspelt or missing variable into an error instead of an
empty string. `None` renders as nothing, as a blank cell.

The stylesheet `reporting/static/mhbench.css` is shared by the benchmark report, the quality
page and the submitter report. A page inlines it with `{% include "static/mhbench.css" %}`
inside its `<style>`, so every page stays one self-contained file that fetches nothing. An
include copies the file's text as it is (only `{{ … }}` expressions are escaped), so the CSS
is not escaped; it must not contain `{{`, `{%` or `{#`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)

from ingestion.report import shorten

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
STYLESHEET = STATIC / "mhbench.css"

# On every human-readable output of a draft release (DESIGN.md, "Release kinds").
DRAFT_WATERMARK = "DRAFT — not for circulation"


def watermark_for(manifest: dict | None) -> str | None:
    """The watermark of a release's pages: DRAFT_WATERMARK for a draft, none for a final."""
    return DRAFT_WATERMARK if (manifest or {}).get("kind") == "draft" else None


def fmt_number(value: float | None) -> str:
    """A value as a person reads it: magnitude decides the decimals, thousands separated."""
    if value is None or value != value:
        return ""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def fmt_cell(value: Any) -> str:
    """A table cell of a mart as text: numbers as fmt_number, booleans yes/no, times to the minute."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_number(value)
    if hasattr(value, "isoformat"):
        return (
            value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else str(value)
        )
    return str(value)


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


@cache
def environment() -> Environment:
    """The environment of every page (templates and the shared stylesheet)."""
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES),
                PrefixLoader({"static": FileSystemLoader(STATIC)}),
            ]
        ),
        autoescape=select_autoescape(["html", "css"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        finalize=_blank_none,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["number"] = fmt_number
    env.filters["cell"] = fmt_cell
    env.filters["shorten"] = shorten
    return env


def render(template: str, **context: Any) -> str:
    """The template `template` (a file name in reporting/templates/) rendered with `context`."""
    return environment().get_template(template).render(**context)
