"""Records that cross module boundaries: a parsed return and its issues."""

from __future__ import annotations

from dataclasses import dataclass, field

ABOUT_FIELDS = (
    "participant_code",
    "participant_name",
    "collection_year",
    "period_start",
    "period_end",
    "currency",
    "template_version",
    "coverage_note",
)
DATA_HEADER = ("item_code", "item_name", "unit", "value", "flag", "comment")
CSV_HEADER = ("participant_code", "collection_year", "item_code", "value", "flag", "comment")


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a return, phrased for the person who submitted it.

    place: where it is (`Data!D17`, `About!B3`, `line 5, column value`, `file`).
    value: what we saw (as text, possibly empty).
    expected: what would have been accepted.
    code: a stable machine-readable kind, e.g. `unknown_item_code`.
    """

    code: str
    place: str
    value: str
    expected: str
    message: str
    severity: str = "error"


@dataclass(frozen=True)
class ReturnValue:
    item_code: str
    value: float | None
    flag: str | None
    comment: str | None
    place: str  # where the value sits in the file, e.g. Data!D17 or "line 5"


@dataclass
class ParsedReturn:
    file_format: str  # xlsx | csv
    about: dict[str, object] = field(default_factory=dict)
    values: list[ReturnValue] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def participant_code(self) -> str | None:
        code = self.about.get("participant_code")
        return str(code) if code else None

    @property
    def collection_year(self) -> int | None:
        year = self.about.get("collection_year")
        return int(year) if isinstance(year, int) else None
