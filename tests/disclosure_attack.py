"""An attack on a release: try to work a person or event count back out of what is published.

DESIGN.md (disclosure control): counts of 1-7 are suppressed, larger ones rounded to the nearest
5, and every published figure derived from a count is computed from the published count. So
whatever an analyst recovers from a published figure must be the published count itself (a
multiple of 5, or 0), and a suppressed count must never come back narrower than 1-7.

`attack(con)` reads the marts of a release (or of a build warehouse: the same schema `marts`)
and returns every leak it finds, one `Leak` per published row that gives an exact count away:

- indicators (`fct_indicator_values`) with a public denominator (a population) or a published
  one: numerator = value x denominator / multiplier for a count in the numerator, denominator =
  numerator x multiplier / value for a count in the denominator;
- trends (`mart_trends`): the previous value and the change % must be those of the published
  values, or the previous year's count comes back the same way;
- benchmark statistics (`mart_benchmark`) must be statistics of the published values;
- findings (`mart_validation_findings`): every count quoted in a message or in values_involved
  must be the published count (a multiple of 5) or "1-7"; an indicator value quoted must be the
  published one (or, for one withheld by an error finding, the value of the published inputs
  quoted beside it); no change % may be quoted from or to a suppressed count (it narrows it), nor
  any statistic of the participants' exact values.

Tests only: it knows nothing the release does not publish, except the disclosure thresholds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import duckdb

ROUND_TO = 5
SUPPRESSED = "1-7"
# Quoted in a message: "ITEM (123)" (item rules), "ITEM 123" after "from"/"and" (inputs of an
# indicator rule), "changed by -12.5% from P (2023) to C (2024)" (year-on-year rules).
_PAREN = re.compile(r"\b([A-Z][A-Z0-9_]*) \(([^()]*)\)")
_INPUTS = re.compile(r"\(from ([A-Z][A-Z0-9_]*) ([^ ()]+)(?: and ([A-Z][A-Z0-9_]*) ([^ ()]+))?\)")
_CHANGE = re.compile(
    r"^([A-Z][A-Z0-9_]*) changed (?:by ([+-]?[0-9.]+)% )?from (\S+) \((\d{4})\) to (\S+) \((\d{4})\)"
)
_EXACT_STATISTIC = re.compile(r"participants, -?[0-9.]+ to -?[0-9.]+|quartiles -?[0-9.]+")


@dataclass(frozen=True)
class Leak:
    table: str
    key: str
    what: str


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _is_published_count(shown: str) -> bool:
    """A count as published: 1-7, NA/NK/missing, or a multiple of ROUND_TO (0 included)."""
    if shown == SUPPRESSED or not re.fullmatch(r"-?[0-9.]+", shown):
        return True
    number = float(shown)
    return _close(number / ROUND_TO, round(number / ROUND_TO))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def indicator_leaks(con: duckdb.DuckDBPyConnection) -> list[Leak]:
    leaks = []
    for r in _rows(
        con,
        """
        select v.participant_code, v.collection_year, v.indicator_code, v.numerator,
               v.denominator, v.value, i.multiplier, i.uses_ppp,
               coalesce(n.is_person_count, false) as numerator_is_count,
               coalesce(d.is_person_count, false) as denominator_is_count
        from marts.fct_indicator_values v
        join marts.dim_indicator i using (indicator_code)
        left join marts.dim_data_item n on n.item_code = i.numerator_item
        left join marts.dim_data_item d on d.item_code = i.denominator_item
        where v.value is not null
        """,
    ):
        key = f"{r['participant_code']} {r['collection_year']} {r['indicator_code']}"
        if r["numerator_is_count"] and r["denominator"] is not None:
            recovered = r["value"] * r["denominator"] / r["multiplier"]
            if r["numerator"] is None or not _close(recovered, r["numerator"]):
                leaks.append(
                    Leak(
                        "fct_indicator_values",
                        key,
                        f"numerator {recovered:.6g} recovered, published {r['numerator']}",
                    )
                )
        if r["denominator_is_count"] and r["numerator"] is not None and r["value"] != 0:
            recovered = r["numerator"] * r["multiplier"] / r["value"]
            if r["denominator"] is None or not _close(recovered, r["denominator"]):
                leaks.append(
                    Leak(
                        "fct_indicator_values",
                        key,
                        f"denominator {recovered:.6g} recovered, published {r['denominator']}",
                    )
                )
    return leaks


def trend_leaks(con: duckdb.DuckDBPyConnection) -> list[Leak]:
    leaks = []
    for r in _rows(
        con,
        """
        select t.participant_code, t.indicator_code, t.collection_year, t.value,
               t.previous_year_value, t.change_pct, p.value as published_previous
        from marts.mart_trends t
        left join marts.fct_indicator_values p
            on p.participant_code = t.participant_code and p.indicator_code = t.indicator_code
            and p.collection_year = t.collection_year - 1
        """,
    ):
        key = f"{r['participant_code']} {r['collection_year']} {r['indicator_code']}"
        prev, published = r["previous_year_value"], r["published_previous"]
        if prev is not None and (published is None or not _close(prev, published)):
            leaks.append(Leak("mart_trends", key, f"previous value {prev} is not published"))
        if r["change_pct"] is not None:
            if published in (None, 0) or r["value"] is None:
                leaks.append(Leak("mart_trends", key, "change % from or to no published value"))
            elif not _close(r["change_pct"], (r["value"] - published) / abs(published) * 100):
                leaks.append(Leak("mart_trends", key, "change % not of the published values"))
    return leaks


def benchmark_leaks(con: duckdb.DuckDBPyConnection) -> list[Leak]:
    """The statistics must be those of the published values (nothing else goes into them)."""
    rows = _rows(
        con,
        """
        select b.indicator_code, b.collection_year, b.n, b.min, b.median, b.max, b.mean,
               count(v.value) as n_published, min(v.value) as min_published,
               max(v.value) as max_published, quantile_cont(v.value, 0.5) as median_published,
               avg(v.value) as mean_published
        from marts.mart_benchmark b
        left join marts.fct_indicator_values v
            on v.indicator_code = b.indicator_code and v.collection_year = b.collection_year
            and v.value is not null
        group by all
        """,
    )
    leaks = []
    for r in rows:
        for stat in ("min", "median", "max", "mean"):
            if r["n"] != r["n_published"] or not _close(r[stat], r[f"{stat}_published"]):
                leaks.append(
                    Leak(
                        "mart_benchmark",
                        f"{r['indicator_code']} {r['collection_year']}",
                        f"{stat} is not a statistic of the published values",
                    )
                )
    return leaks


def _withheld_value_leak(shown: str, message: str, withheld: tuple) -> str | None:
    """For an indicator withheld by an error finding: the value quoted must be the value of
    the published inputs quoted beside it ("(from N 10 and D 330)", or N over the public
    population), not one of the exact counts."""
    multiplier, population, has_denominator_item, uses_ppp = withheld
    inputs = _INPUTS.search(message)
    if uses_ppp or inputs is None:
        return None
    numbers = [g for g in (inputs.group(2), inputs.group(4)) if g is not None]
    if not all(re.fullmatch(r"-?[0-9.]+", n) for n in numbers):
        return None  # an input is 1-7, NA, NK or missing: the value shows as such
    numerator = float(numbers[0])
    denominator = float(numbers[1]) if has_denominator_item else population
    if not denominator:
        return None
    expected = round(numerator * multiplier / denominator, 2)
    if not _close(float(shown), expected):
        return f"{shown} is not the value {expected} of the published inputs"
    return None


def _finding_leaks(
    finding: dict, counts: set[str], published_values: dict, withheld: dict
) -> list[str]:
    """What a finding's message and values_involved give away (see the module doc)."""
    message, found = finding["message"], []
    participant, year = finding["participant_code"], finding["collection_year"]
    quoted: list[tuple[str, str, int]] = [(c, s, year) for c, s in _PAREN.findall(message)]
    for match in _INPUTS.finditer(message):
        quoted.append((match.group(1), match.group(2), year))
        if match.group(3):
            quoted.append((match.group(3), match.group(4), year))
    change = _CHANGE.match(message)
    if change:
        code, pct, previous, prev_year, current, cur_year = change.groups()
        quoted = [q for q in quoted if q[0] != code]
        quoted += [(code, previous, int(prev_year)), (code, current, int(cur_year))]
        if pct is not None and {previous, current} & {SUPPRESSED, "suppressed"}:
            found.append(f"change {pct}% quoted from or to a suppressed value")
    for code, shown, in_year in quoted:
        shown = shown.strip()
        if code in counts and not _is_published_count(shown):
            found.append(f"{code} {shown} is not a published count")
        if code in counts or not re.fullmatch(r"-?[0-9.]+", shown):
            continue
        if (participant, in_year, code) in withheld:
            leak = _withheld_value_leak(shown, message, withheld[(participant, in_year, code)])
            if leak:
                found.append(f"{code} {leak}")
            continue
        indicator = published_values.get((participant, in_year, code), "absent")
        if indicator == "absent":
            continue
        if indicator is None or not _close(float(shown), round(indicator, 2)):
            found.append(f"{code} {shown} is not the published value {indicator}")
    items = [i.strip() for i in (finding["items_involved"] or "").split(",")]
    values = [v.strip() for v in (finding["values_involved"] or "").split(",")]
    for code, shown in zip(items, values, strict=False):
        if code in counts and not _is_published_count(shown):
            found.append(f"values_involved {code} {shown} is not a published count")
    if _EXACT_STATISTIC.search(message):
        found.append("quotes a statistic of the participants' exact values")
    return found


def finding_leaks(con: duckdb.DuckDBPyConnection) -> list[Leak]:
    counts = {
        r[0]
        for r in con.execute(
            "select item_code from marts.dim_data_item where is_person_count"
        ).fetchall()
    }
    # An indicator kept out of the release by an error finding (validation_error) has no
    # published value, but its findings quote the value of its published inputs, which are
    # quoted beside it (_withheld_value_leak).
    published_values = {
        (p, y, i): v
        for p, y, i, v in con.execute(
            "select participant_code, collection_year, indicator_code, value "
            "from marts.fct_indicator_values "
            "where suppression_reason is distinct from 'validation_error'"
        ).fetchall()
    }
    withheld = {
        (p, y, i): (multiplier, denominator, denominator_item is not None, uses_ppp)
        for p, y, i, multiplier, denominator, denominator_item, uses_ppp in con.execute(
            "select v.participant_code, v.collection_year, v.indicator_code, d.multiplier, "
            "v.denominator, d.denominator_item, d.uses_ppp "
            "from marts.fct_indicator_values v join marts.dim_indicator d using (indicator_code) "
            "where v.suppression_reason = 'validation_error'"
        ).fetchall()
    }
    leaks = []
    for finding in _rows(
        con,
        "select finding_id, participant_code, collection_year, message, items_involved, "
        "values_involved from marts.mart_validation_findings",
    ):
        for what in _finding_leaks(finding, counts, published_values, withheld):
            leaks.append(Leak("mart_validation_findings", finding["finding_id"], what))
    return leaks


def attack(con: duckdb.DuckDBPyConnection) -> list[Leak]:
    """Every leak of the published marts (see the module doc)."""
    return indicator_leaks(con) + trend_leaks(con) + benchmark_leaks(con) + finding_leaks(con)


def leaking_rows(leaks: list[Leak]) -> dict[str, int]:
    """Rows giving something away, per mart (a row with two leaks counts once)."""
    rows: dict[str, set[str]] = {}
    for leak in leaks:
        rows.setdefault(leak.table, set()).add(leak.key)
    return {table: len(keys) for table, keys in sorted(rows.items())}
