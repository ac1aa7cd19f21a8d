"""The plain-words sentence of a line of enquiry (mart_lines_of_enquiry), for the report.

    Sweden's adult acute admissions per 100,000 population is 48 % lower than the median
    of 11 participants (129 against 247 per 100,000 population aged 18-64); England,
    Australia and New Zealand are at the other end; note: coverage: public services only.

Plain text only: the page's template escapes it like any other text. Every number quoted is
a published value of the release or a figure of mart_lines_of_enquiry (built on published
values only), so a sentence never quotes a suppressed count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reporting.templating import fmt_number


@dataclass(frozen=True)
class Wording:
    """What a sentence names: the participant, the indicator, the names of the peers."""

    participant_name: str
    indicator_name: str
    unit_label: str
    higher_is_better: bool | None
    peer_names: Sequence[str]


def possessive(name: str) -> str:
    """Sweden's, Wales', the Netherlands'."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def lower_first(text: str) -> str:
    """ "Adult acute beds" -> "adult acute beds"; an acronym ("CYP inpatient beds") stays."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def with_unit(value: float | None, unit: str) -> str:
    """129 per 100,000 population aged 18-64; 5.1 %; 12.3 days."""
    number = fmt_number(value)
    return f"{number} {unit}".strip() if unit else number


def names_list(names: Sequence[str]) -> str:
    """A, B and C."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _judgement(direction: str, higher_is_better: bool | None) -> str:
    if direction == "better":
        return ", which is better (" + ("higher" if higher_is_better else "lower") + " is better)"
    if direction == "worse":
        return ", which is worse (" + ("higher" if higher_is_better else "lower") + " is better)"
    return ""


def _notes(caveats: Sequence[str]) -> str:
    return "; note: " + "; ".join(lower_first(c) for c in caveats) if caveats else ""


def _full_stop(text: str) -> str:
    """One full stop at the end, also when the last caveat (a submitter's note) ends in one."""
    return text.rstrip(" .") + "."


def _peers(names: Sequence[str]) -> str:
    if not names:
        return ""
    verb = "is" if len(names) == 1 else "are"
    return f"; {names_list(names)} {verb} at the other end"


def difference_sentence(row: dict, wording: Wording) -> str:
    """Where the value stands against the median, who is at the other end, the caveats."""
    subject = f"{possessive(wording.participant_name)} {lower_first(wording.indicator_name)}"
    n = row["n"]
    pct = row.get("pct_from_median")
    distance = row.get("distance_iqr")
    figures = f"({with_unit(row['value'], wording.unit_label)} against {fmt_number(row['median'])})"
    if row["direction"] == "at_median" or row["value"] == row["median"]:
        where = f"is at the median of {n} participants {figures}"
    elif pct is not None:
        side = "higher" if row["value"] > row["median"] else "lower"
        where = f"is {abs(pct):.0f} % {side} than the median of {n} participants {figures}"
    else:
        side = "above" if row["value"] > row["median"] else "below"
        spread = f"{abs(distance):.1f} interquartile ranges " if distance is not None else ""
        where = f"is {spread}{side} the median of {n} participants {figures}"
    return _full_stop(
        f"{subject} {where}{_judgement(row['direction'], wording.higher_is_better)}"
        f"{_peers(wording.peer_names)}{_notes(row['caveats'])}"
    )


def change_sentence(row: dict, wording: Wording) -> str:
    """How the value changed since last year, against what is usual, and the caveats."""
    subject = f"{possessive(wording.participant_name)} {lower_first(wording.indicator_name)}"
    change = row["change_pct"]
    verb = "rose" if change > 0 else "fell" if change < 0 else "did not change"
    year = row["collection_year"]
    amount = f" by {abs(change):.1f} %" if change else ""
    figures = (
        f" from {year - 1} to {year} ({fmt_number(row['previous_year_value'])} to "
        f"{with_unit(row['value'], wording.unit_label)})"
    )
    against = []
    if row.get("typical_abs_change_pct") is not None:
        against.append(f"its typical yearly change is {row['typical_abs_change_pct']:.1f} %")
    p90 = row.get("p90_abs_change_pct")
    if p90 is not None and abs(change) > p90:
        against.append(f"9 in 10 participants changed by {p90:.1f} % or less")
    context = ", while " + " and ".join(against) if against else ""
    return _full_stop(f"{subject} {verb}{amount}{figures}{context}{_notes(row['caveats'])}")
