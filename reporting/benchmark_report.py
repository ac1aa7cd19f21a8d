"""The benchmarking report of a release: one self-contained HTML file for analysts.

    write_benchmark_report(release_path)                      # releases/<id>/report.html
    write_benchmark_report(release_path, "SE", Path("se.html"))

It reads only the release (mhbench.duckdb read-only, manifest.json): no network, no
CDN, CSS inline, charts inline SVG drawn with matplotlib. For the latest collection year
(or `year`), per indicator grouped by section: where every participant stands (bars,
median and quartiles of mart_benchmark), the trend over the years, the values with
flags and footnotes (a suppressed value reads "suppressed", not blank), then the data
quality of the returns. Optional marts (mart_participant_position, mart_trends,
mart_data_quality, mart_validation_findings) are used when the release has them.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporting.quality_report import QUALITY_FILE

REPORT_FILE = "report.html"
RELEASE_DB = "mhbench.duckdb"

SECTION_TITLES = {
    "finance": "Finance",
    "adult_acute": "Adult acute inpatient care",
    "older_adult": "Older adult inpatient care",
    "adult_community": "Adult community services",
    "crisis": "Crisis care",
    "cyp_community": "Children and young people: community",
    "cyp_inpatient": "Children and young people: inpatient",
    "mha": "Mental Health Act",
    "safety": "Safety",
    "workforce": "Workforce",
}
FLAG_MEANINGS = {
    "E": "estimated",
    "P": "provisional",
    "B": "break in series",
    "D": "definition differs from the dictionary",
}
NULL_REASONS = {
    "NA": "not applicable",
    "NK": "not known",
    "numerator_missing": "not submitted",
    "denominator_missing": "denominator not submitted",
    "denominator_zero": "denominator is zero",
    "ppp_missing": "no PPP for the year",
}
# Quartile 1 holds the highest values, whether or not higher is better: words, not judgement.
QUARTILE_WORDS = {
    1: "highest quartile",
    2: "above the median",
    3: "below the median",
    4: "lowest quartile",
}


class ReportError(ValueError):
    """The report cannot be made as asked (unknown participant or year, no release)."""


@dataclass
class Row:
    participant_code: str
    value: float | None
    flags: str | None
    suppressed: bool
    null_reason: str | None
    footnote: str | None

    @property
    def status(self) -> str:
        """What to print instead of a missing value."""
        if self.value is not None:
            return ""
        if self.suppressed:
            return "suppressed"
        return NULL_REASONS.get(
            self.null_reason or "", (self.null_reason or "no value").replace("_", " ")
        )


@dataclass
class ReportData:
    release_id: str
    manifest: dict
    year: int
    years: list[int]
    participant: str | None
    participants: dict[str, dict]
    indicators: list[dict]
    values: dict[tuple[str, int, str], Row]  # (indicator, year, participant)
    benchmark: dict[tuple[str, int], dict]
    positions: dict[tuple[str, str], dict] = field(default_factory=dict)  # (indicator, participant)
    breaks: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    changes: dict[tuple[str, str], float | None] = field(default_factory=dict)
    quality: tuple[list[str], list[list[Any]], str] | None = None  # columns, rows, source
    findings: tuple[list[str], list[list[Any]]] | None = None
    marts: set[str] = field(default_factory=set)
    quality_link: str | None = None  # the release's quality.html, linked when beside the report

    @property
    def participant_name(self) -> str | None:
        if self.participant is None:
            return None
        return self.participants[self.participant]["participant_name"]


def write_benchmark_report(
    release_path: Path,
    participant: str | None = None,
    output: Path | None = None,
    *,
    year: int | None = None,
    manifest: dict | None = None,
) -> Path:
    """Write the report of the release at release_path; its path.

    Default output is `<release_path>/report.html`. `participant` (e.g. "SE") is the one
    highlighted in every chart; without it no participant is highlighted. `year` defaults
    to the latest collection year with a published value. `manifest` is the release's
    manifest when it is not written yet (publish writes it last); default: manifest.json.
    Raises ReportError for an unknown participant or year, or a folder without a release.
    """
    release_path = Path(release_path)
    output = Path(output) if output else release_path / REPORT_FILE
    page = render_benchmark_report(
        release_path,
        participant,
        year,
        manifest=manifest,
        link_quality=output.resolve().parent == release_path.resolve(),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
    return output


def render_benchmark_report(
    release_path: Path,
    participant: str | None = None,
    year: int | None = None,
    *,
    manifest: dict | None = None,
    link_quality: bool = False,
) -> str:
    """The report as an HTML string (see write_benchmark_report)."""
    started = time.perf_counter()
    data = load_report_data(Path(release_path), participant, year, manifest=manifest)
    if link_quality and (Path(release_path) / QUALITY_FILE).exists():
        data.quality_link = QUALITY_FILE
    return _render(data, started)


# -- reading the release ----------------------------------------------------------------------


def load_report_data(
    release_path: Path,
    participant: str | None = None,
    year: int | None = None,
    *,
    manifest: dict | None = None,
) -> ReportData:
    import duckdb

    database = release_path / RELEASE_DB
    if not database.exists():
        raise ReportError(f"no release database at {database}")
    if manifest is None:
        manifest_path = release_path / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}

    with duckdb.connect(str(database), read_only=True) as con:
        marts = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        participants = {
            r["participant_code"]: r
            for r in _records(con, "select * from marts.dim_participant order by participant_code")
        }
        if participant is not None:
            participant = participant.strip().upper()
            if participant not in participants:
                raise ReportError(
                    f"unknown participant {participant!r}; known: {', '.join(sorted(participants))}"
                )
        indicators = _records(con, "select * from marts.dim_indicator")
        value_columns = _columns(con, "fct_indicator_values")
        null_reason = "null_reason" if "null_reason" in value_columns else "null as null_reason"
        values: dict[tuple[str, int, str], Row] = {}
        for r in _records(
            con,
            "select indicator_code, collection_year, participant_code, value, flags, "
            f"coalesce(suppressed, false) as suppressed, {null_reason}, footnote "
            "from marts.fct_indicator_values",
        ):
            values[(r["indicator_code"], r["collection_year"], r["participant_code"])] = Row(
                r["participant_code"],
                r["value"],
                r["flags"],
                r["suppressed"],
                r["null_reason"],
                r["footnote"],
            )
        years = sorted({y for _, y, _ in values})
        published_years = sorted({y for (_, y, _), row in values.items() if row.value is not None})
        if year is None:
            if not published_years:
                raise ReportError(f"release {release_path.name} has no published indicator value")
            year = published_years[-1]
        elif year not in years:
            raise ReportError(f"no data for {year} in this release; years: {years}")
        benchmark = {
            (r["indicator_code"], r["collection_year"]): r
            for r in _records(con, "select * from marts.mart_benchmark")
        }
        data = ReportData(
            release_id=manifest.get("release_id", release_path.name.removeprefix(".incoming-")),
            manifest=manifest,
            year=year,
            years=years,
            participant=participant,
            participants=participants,
            indicators=indicators,
            values=values,
            benchmark=benchmark,
            marts=marts,
        )
        _load_positions(con, data)
        _load_trends(con, data)
        data.quality = _load_quality(con, data)
        data.findings = _load_findings(con, data)
    return data


def _records(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _columns(con, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


def _load_positions(con, data: ReportData) -> None:
    """Rank and quartile of each participant in the report year (the mart, or computed)."""
    if "mart_participant_position" in data.marts:
        columns = set(_columns(con, "mart_participant_position"))
        if {"participant_code", "indicator_code", "collection_year", "rank"} <= columns:
            for r in _records(
                con,
                "select * from marts.mart_participant_position where collection_year = ?",
                [data.year],
            ):
                data.positions[(r["indicator_code"], r["participant_code"])] = r
            return
    by_indicator: dict[str, list[Row]] = defaultdict(list)
    for (indicator, year, _), row in data.values.items():
        if year == data.year and row.value is not None:
            by_indicator[indicator].append(row)
    for indicator, rows in by_indicator.items():
        stats = data.benchmark.get((indicator, data.year), {})
        for row in rows:
            rank = 1 + sum(other.value > row.value for other in rows)
            quartile = None
            if stats.get("median") is not None:
                quartile = (
                    1
                    if row.value >= stats["p75"]
                    else 2
                    if row.value >= stats["median"]
                    else 3
                    if row.value >= stats["p25"]
                    else 4
                )
            data.positions[(indicator, row.participant_code)] = {
                "rank": rank,
                "n": len(rows),
                "quartile": quartile,
            }


def _load_trends(con, data: ReportData) -> None:
    """Breaks in series and the change on the previous year (mart_trends, or computed)."""
    columns = set(_columns(con, "mart_trends")) if "mart_trends" in data.marts else set()
    if {"participant_code", "indicator_code", "collection_year", "break_in_series"} <= columns:
        change = "change_pct" if "change_pct" in columns else "null as change_pct"
        for r in _records(
            con,
            "select participant_code, indicator_code, collection_year, break_in_series, "
            f"{change} from marts.mart_trends",
        ):
            key = (r["indicator_code"], r["participant_code"])
            if r["break_in_series"]:
                data.breaks.setdefault(key, set()).add(r["collection_year"])
            if r["collection_year"] == data.year:
                data.changes[key] = r["change_pct"]
        return
    for (indicator, year, code), row in data.values.items():
        if row.flags and "B" in row.flags.split(","):
            data.breaks.setdefault((indicator, code), set()).add(year)
        if year == data.year:
            previous = data.values.get((indicator, year - 1, code))
            if row.value is not None and previous and previous.value:
                data.changes[(indicator, code)] = (
                    (row.value - previous.value) / previous.value * 100
                )


def _load_quality(con, data: ReportData) -> tuple[list[str], list[list[Any]], str]:
    """Data quality per participant for the year: the mart, or the manifest and the returns."""
    if "mart_data_quality" in data.marts:
        columns = _columns(con, "mart_data_quality")
        where = " where collection_year = ?" if "collection_year" in columns else ""
        order = " order by participant_code" if "participant_code" in columns else ""
        cursor = con.execute(
            f"select * from marts.mart_data_quality{where}{order}", [data.year] if where else []
        )
        shown = [c for c in columns if c != "collection_year"]
        rows = [[row[columns.index(c)] for c in shown] for row in cursor.fetchall()]
        return shown, rows, "mart_data_quality"
    submissions = {
        s.get("participant_code"): s
        for s in data.manifest.get("submissions", [])
        if s.get("collection_year") == data.year
    }
    counts = {
        r["participant_code"]: r
        for r in _records(
            con,
            "select participant_code, count(*) as items, count(value) as with_value, "
            "count(*) filter (where flag = 'NA') as na, count(*) filter (where flag = 'NK') as nk, "
            "count(*) filter (where flag in ('E', 'P', 'B', 'D')) as flagged, "
            "count(*) filter (where suppressed) as suppressed "
            "from marts.fct_return_values where collection_year = ? group by participant_code",
            [data.year],
        )
    }
    columns = [
        "participant",
        "submission",
        "items",
        "values given",
        "NA",
        "NK",
        "flagged E/P/B/D",
        "suppressed",
        "completeness %",
    ]
    rows = []
    for code in sorted(data.participants):
        sub, c = submissions.get(code), counts.get(code)
        if sub is None and c is None:
            rows.append([code, "no return", *[None] * 7])
            continue
        c = c or {}
        items = c.get("items") or 0
        answered = (c.get("with_value") or 0) + (c.get("na") or 0) + (c.get("suppressed") or 0)
        rows.append(
            [
                code,
                (sub or {}).get("submission_id", ""),
                items,
                c.get("with_value"),
                c.get("na"),
                c.get("nk"),
                c.get("flagged"),
                c.get("suppressed"),
                round(100 * answered / items, 1) if items else None,
            ]
        )
    return columns, rows, "manifest.json and fct_return_values"


def _load_findings(con, data: ReportData) -> tuple[list[str], list[list[Any]]] | None:
    if "mart_validation_findings" not in data.marts:
        return None
    columns = _columns(con, "mart_validation_findings")
    conditions, params = [], []
    if "collection_year" in columns:
        conditions.append("collection_year = ?")
        params.append(data.year)
    if data.participant and "participant_code" in columns:
        conditions.append("participant_code = ?")
        params.append(data.participant)
    where = f" where {' and '.join(conditions)}" if conditions else ""
    order = [c for c in ("participant_code", "severity", "rule_id", "rule_code") if c in columns]
    sql = f"select * from marts.mart_validation_findings{where}"
    if order:
        sql += " order by " + ", ".join(order)
    cursor = con.execute(sql + " limit 500", params)
    hidden = {"collection_year", "submission_id", "file_sha256"}
    shown = [c for c in columns if c not in hidden]
    rows = [[row[columns.index(c)] for c in shown] for row in cursor.fetchall()]
    return shown, rows


# -- rendering --------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


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


def _fmt_cell(value: Any) -> str:
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


def _section_order(indicators: list[dict]) -> list[str]:
    sections = {i["section"] for i in indicators}
    known = [s for s in SECTION_TITLES if s in sections]
    return known + sorted(sections - set(known))


def _section_title(section: str) -> str:
    return SECTION_TITLES.get(section, section.replace("_", " ").capitalize())


def _names(data: ReportData) -> dict[str, str]:
    return {code: _name(data, code) for code in data.participants}


def _name(data: ReportData, code: str) -> str:
    return data.participants.get(code, {}).get("participant_name") or code


def _render(data: ReportData, started: float) -> str:
    from reporting.charts import Bar, Charts

    sections = _section_order(data.indicators)
    by_section: dict[str, list[dict]] = defaultdict(list)
    for indicator in sorted(data.indicators, key=lambda i: i["indicator_code"]):
        by_section[indicator["section"]].append(indicator)

    body: list[str] = []
    summary_rows: list[str] = []
    chart_index = 0
    with Charts() as charts:
        for section in sections:
            body.append(
                f'<section class="section" id="s-{_esc(section)}">'
                f"<h2>{_esc(_section_title(section))}</h2>"
            )
            for indicator in by_section[section]:
                code = indicator["indicator_code"]
                unit = indicator.get("unit_label") or ""
                stats = data.benchmark.get((code, data.year), {})
                rows = [
                    data.values[(code, data.year, p)]
                    for p in data.participants
                    if (code, data.year, p) in data.values
                ]
                rows.sort(key=lambda r: (r.value is None, -(r.value or 0), r.participant_code))
                chart_index += 1
                bars = [
                    Bar(
                        _name(data, r.participant_code),
                        r.value,
                        r.status,
                        r.participant_code == data.participant,
                    )
                    for r in rows
                ]
                position_svg = charts.position(
                    bars,
                    stats.get("median"),
                    stats.get("p25"),
                    stats.get("p75"),
                    unit,
                    prefix=f"p{chart_index}",
                    label=f"{indicator['indicator_name']} {data.year}, participants by value",
                )
                series = {
                    p: [
                        (y, data.values[(code, y, p)].value)
                        for y in data.years
                        if (code, y, p) in data.values
                    ]
                    for p in data.participants
                }
                median = [
                    (y, data.benchmark.get((code, y), {}).get("median"))
                    for y in data.years
                    if (code, y) in data.benchmark
                ]
                trend_svg = charts.trend(
                    series,
                    median,
                    data.participant,
                    sorted(data.breaks.get((code, data.participant or ""), set())),
                    unit,
                    prefix=f"t{chart_index}",
                    label=f"{indicator['indicator_name']} over the years",
                )
                body.append(_indicator_html(data, indicator, stats, rows, position_svg, trend_svg))
                if data.participant:
                    if indicator is by_section[section][0]:
                        summary_rows.append(
                            f'<tr class="group"><th colspan="7">{_esc(_section_title(section))}</th></tr>'
                        )
                    summary_rows.append(_summary_row(data, indicator, stats))
            body.append("</section>")

    body.append(_quality_html(data))
    if data.findings is not None:
        body.append(_findings_html(data))
    body.append(_method_html(data))

    elapsed = time.perf_counter() - started
    return _page(data, sections, summary_rows, "\n".join(body), chart_index, elapsed)


def _indicator_html(
    data: ReportData,
    indicator: dict,
    stats: dict,
    rows: list[Row],
    position_svg: str,
    trend_svg: str,
) -> str:
    code = indicator["indicator_code"]
    better = {True: "higher is better", False: "lower is better"}.get(
        indicator.get("higher_is_better"), ""
    )
    # Footnotes of the rows shown, numbered once per indicator.
    notes: dict[str, int] = {}
    table_rows = []
    for r in rows:
        refs = []
        for note in _split_footnote(r.footnote):
            refs.append(notes.setdefault(note, len(notes) + 1))
        position = data.positions.get((code, r.participant_code), {})
        flags = ", ".join(
            f'<abbr title="{_esc(FLAG_MEANINGS.get(f, f))}">{_esc(f)}</abbr>'
            for f in (r.flags or "").split(",")
            if f
        )
        value = (
            _esc(fmt_number(r.value))
            if r.value is not None
            else f'<span class="status">{_esc(r.status)}</span>'
        )
        highlight = ' class="highlight"' if r.participant_code == data.participant else ""
        table_rows.append(
            f"<tr{highlight}><td>{_esc(_name(data, r.participant_code))}</td>"
            f'<td class="num">{value}</td>'
            f'<td class="num">{_esc(position.get("rank", ""))}</td>'
            f"<td>{flags}</td>"
            f'<td class="refs">{", ".join(str(n) for n in refs)}</td></tr>'
        )
    footnotes = "".join(f"<li>{_esc(note)}</li>" for note in notes)
    stats_line = (
        f"n = {stats.get('n')} · median {_esc(fmt_number(stats.get('median')))} · "
        f"quartiles {_esc(fmt_number(stats.get('p25')))} – {_esc(fmt_number(stats.get('p75')))} · "
        f"range {_esc(fmt_number(stats.get('min')))} – {_esc(fmt_number(stats.get('max')))}"
        if stats
        else "no published values this year"
    )
    unit_line = _esc(indicator.get("unit_label")) + (f" · {better}" if better else "")
    who = (
        f'<span class="key highlight"></span> {_esc(data.participant_name)} '
        if data.participant
        else ""
    )
    if data.participant and not any(
        (code, y, data.participant) in data.values
        and data.values[(code, y, data.participant)].value is not None
        for y in data.years
    ):
        who += "(no published value) "
    breaks = (
        " ◇ break in series"
        if data.participant and data.breaks.get((code, data.participant))
        else ""
    )
    notes_html = f'<h4>Notes</h4><ol class="footnotes">{footnotes}</ol>' if footnotes else ""
    return f"""
<article class="indicator" id="i-{_esc(code)}" data-indicator="{_esc(code)}">
  <h3>{_esc(indicator["indicator_name"])}</h3>
  <p class="unit">{unit_line} · <code>{_esc(code)}</code></p>
  <p class="definition">{_esc(indicator.get("definition"))}</p>
  <div class="body">
    <figure class="position">{position_svg}
      <figcaption>{data.year}, highest first. <span class="key median"></span> median
      <span class="key quartile"></span> quartiles. {stats_line}</figcaption></figure>
    <figure class="trend">{trend_svg}
      <figcaption>{data.years[0]}–{data.years[-1]}. {who}<span class="key median dashed"></span>
      median <span class="key others"></span> other participants{breaks}</figcaption></figure>
    <div class="values">
      <table class="values"><caption>Values {data.year}</caption><thead><tr><th>Participant</th>
      <th class="num">Value</th><th class="num">Rank</th><th>Flags</th><th>Notes</th></tr></thead>
      <tbody>{"".join(table_rows)}</tbody></table></div>
    <div class="notes">{notes_html}</div>
  </div>
</article>"""


def _split_footnote(footnote: str | None) -> list[str]:
    """The notes joined in a footnote ("; "), so a note shared by many rows is listed once.

    A part starting in lower case continues the previous note (a coverage note can itself
    contain "; ").
    """
    notes: list[str] = []
    for part in (footnote or "").split("; "):
        part = part.strip()
        if not part:
            continue
        if notes and part[0].islower():
            notes[-1] = f"{notes[-1]}; {part}"
        else:
            notes.append(part)
    return notes


def _summary_row(data: ReportData, indicator: dict, stats: dict) -> str:
    code = indicator["indicator_code"]
    row = data.values.get((code, data.year, data.participant or ""))
    position = data.positions.get((code, data.participant or ""), {})
    if row is None:
        value = '<span class="status">no return</span>'
    elif row.value is None:
        value = f'<span class="status">{_esc(row.status)}</span>'
    else:
        value = _esc(fmt_number(row.value))
    quartile = position.get("quartile")
    badge = (
        f'<span class="q q{quartile}">{_esc(QUARTILE_WORDS.get(quartile, quartile))}</span>'
        if quartile
        else ""
    )
    rank = f"{position['rank']} of {position.get('n') or stats.get('n', '')}" if position else ""
    change = data.changes.get((code, data.participant or ""))
    change_text = f"{change:+.1f}%" if change is not None else ""
    return (
        f'<tr><td><a href="#i-{_esc(code)}">{_esc(indicator["indicator_name"])}</a></td>'
        f'<td class="num">{value}</td><td class="num">{_esc(fmt_number(stats.get("median")))}</td>'
        f'<td class="num">{_esc(rank)}</td><td>{badge}</td><td class="num">{_esc(change_text)}</td>'
        f"<td>{_esc(row.flags if row else '')}</td></tr>"
    )


def _table(
    columns: list[str], rows: list[list[Any]], participant: str | None, names: dict[str, str]
) -> str:
    """A plain table; a first column of participant codes reads as names, the chosen row
    highlighted."""
    head = "".join(f"<th>{_esc(c.replace('_', ' '))}</th>" for c in columns)
    if columns and columns[0] == "participant_code":
        head = "<th>participant</th>" + head[head.index("</th>") + 5 :]
    body = []
    for row in rows:
        cls = ' class="highlight"' if participant and row and row[0] == participant else ""
        cells = []
        for i, v in enumerate(row):
            if i == 0 and columns[0] in ("participant_code", "participant"):
                cells.append(f"<td>{_esc(names.get(v, v))} ({_esc(v)})</td>")
            elif isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(f'<td class="num">{_esc(_fmt_cell(v))}</td>')
            else:
                cells.append(f"<td>{_esc(_fmt_cell(v))}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _quality_html(data: ReportData) -> str:
    columns, rows, source = data.quality or ([], [], "")
    gate = (
        f' The publication gate of this release: <a href="{_esc(data.quality_link)}">'
        f"{_esc(data.quality_link)}</a>."
        if data.quality_link
        else ""
    )
    table = _table(columns, rows, data.participant, _names(data))
    return (
        f'<section class="section" id="data-quality"><h2>Data quality of the {data.year} returns</h2>'
        f'<p class="note">Source: {_esc(source)}.{gate}</p>{table}</section>'
    )


def _findings_html(data: ReportData) -> str:
    columns, rows = data.findings or ([], [])
    who = f" for {_esc(data.participant_name)}" if data.participant else ""
    content = (
        _table(columns, rows, data.participant, _names(data))
        if rows
        else '<p class="note">No findings.</p>'
    )
    return (
        f'<section class="section" id="findings"><h2>Validation findings {data.year}{who}</h2>'
        f'<p class="note">Content rules on the returns (mart_validation_findings); warnings are '
        f"published with the values, errors keep the value out of the release.</p>{content}</section>"
    )


def _method_html(data: ReportData) -> str:
    flags = "".join(f"<li><b>{k}</b> {_esc(v)}</li>" for k, v in FLAG_MEANINGS.items())
    return f"""<section class="section" id="method"><h2>How to read this report</h2>
<p>Median and quartiles are computed over the participants with a published value for the
year (not missing, not applicable, not known or suppressed), with linear interpolation
(as Excel <code>PERCENTILE.INC</code>). Rank 1 is the highest value, whether or not higher is
better; the quartile is that of the value (top quartile = highest values).</p>
<p>Disclosure control: person and event counts of 1 to 7 are suppressed and other such counts
rounded to the nearest 5; an indicator computed from a suppressed count reads
<span class="status">suppressed</span>. Beds, staff, days and money are never suppressed.</p>
<p>Flags on a value:</p><ul class="flags">{flags}</ul>
<p class="note">Release {_esc(data.release_id)}; marts used: {_esc(", ".join(sorted(data.marts)))}.</p>
</section>"""


def _page(
    data: ReportData,
    sections: list[str],
    summary_rows: list[str],
    body: str,
    n_charts: int,
    elapsed: float,
) -> str:
    title = f"Mental health benchmarking {data.year}"
    who = (
        f'<p class="participant" data-participant="{_esc(data.participant)}">Report for '
        f"<strong>{_esc(data.participant_name)}</strong> ({_esc(data.participant)}), "
        f'highlighted <span class="key highlight"></span> in every chart.</p>'
        if data.participant
        else '<p class="participant">All participants; none highlighted.</p>'
    )
    with_values = {
        p for (_, y, p), row in data.values.items() if y == data.year and row.value is not None
    }
    manifest = data.manifest
    nav = "".join(
        f'<li><a href="#s-{_esc(s)}">{_esc(_section_title(s))}</a></li>' for s in sections
    )
    nav += '<li><a href="#data-quality">Data quality</a></li>'
    if data.findings is not None:
        nav += '<li><a href="#findings">Validation findings</a></li>'
    nav += '<li><a href="#method">How to read</a></li>'
    summary = ""
    if summary_rows:
        summary = (
            f'<section id="summary"><h2>{_esc(data.participant_name)} at a glance, {data.year}</h2>'
            '<table class="grid summary"><thead><tr><th>Indicator</th><th class="num">Value</th>'
            '<th class="num">Median</th><th class="num">Rank</th><th>Position</th>'
            '<th class="num">Change on previous year</th><th>Flags</th></tr></thead><tbody>'
            + "".join(summary_rows)
            + "</tbody></table></section>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mhbench benchmark_report ({n_charts} indicators, {elapsed:.1f}s)">
<title>{_esc(title)}{" — " + _esc(data.participant_name) if data.participant else ""}</title>
<style>{CSS}</style></head>
<body>
<header>
  <h1>{_esc(title)}</h1>
  {who}
  <p class="meta">Release <code>{_esc(data.release_id)}</code> published {_esc(manifest.get("created_at", ""))}
  · {len(with_values)} participants with published values for {data.year}
  · {len(data.indicators)} indicators · dictionary {_esc(manifest.get("dictionary_version", ""))}
  · code {_esc(manifest.get("code_version", ""))}</p>
  <nav><ol>{nav}</ol></nav>
</header>
<main>
{summary}
{body}
</main>
</body></html>
"""


CSS = """
:root { --hl: #0b61a4; --ink: #1d232a; --muted: #5f6770; --line: #dde2e7; --bg-hl: #e8f1f9; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; }
header { border-bottom: 3px solid var(--hl); padding: 20px 0 8px; margin-bottom: 16px; }
h1 { font-size: 1.8rem; margin: 0 0 4px; }
h2 { font-size: 1.35rem; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.08rem; margin: 0 0 2px; }
.participant { font-size: 1.05rem; margin: 4px 0; }
.meta, .note, .unit, figcaption { color: var(--muted); font-size: 0.85rem; }
.unit { margin: 0 0 4px; }
.definition { margin: 0 0 8px; font-size: 0.9rem; }
nav ol { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; padding: 0; margin: 8px 0 0; font-size: 0.9rem; }
a { color: var(--hl); }
article.indicator { border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin: 14px 0; }
.body { display: grid; grid-template-columns: minmax(0, 56fr) minmax(0, 44fr); gap: 8px 28px;
  grid-template-areas: "position trend" "values notes"; align-items: start; }
figure { margin: 0; }
figure.position { grid-area: position; } figure.trend { grid-area: trend; }
div.values { grid-area: values; } div.notes { grid-area: notes; }
table.values { width: 100%; }
table.values caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 2px; }
h4 { font-size: 0.85rem; font-weight: normal; color: var(--muted); margin: 6px 0 2px; }
svg.chart { width: 100%; height: auto; display: block; }
.key { display: inline-block; width: 18px; height: 0; vertical-align: middle; margin: 0 2px 0 8px; }
.key.median { border-top: 2px solid #222; }
.key.median.dashed { border-top-style: dashed; }
.key.quartile { border-top: 2px dashed #6b6b6b; }
.key.highlight { border-top: 4px solid var(--hl); }
.key.others { border-top: 2px solid #c4cad2; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 6px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; background: #f5f7f9; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.refs { color: var(--muted); }
tr.highlight td { background: var(--bg-hl); font-weight: 600; }
tr.highlight td:first-child { box-shadow: inset 4px 0 0 var(--hl); }
.status { font-style: italic; color: var(--muted); font-weight: normal; }
ol.footnotes { font-size: 0.8rem; color: var(--muted); margin: 0; padding-left: 22px; }
table.grid { width: 100%; }
table.summary td:first-child { max-width: 420px; }
.q { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 0.8rem; white-space: nowrap; }
.q1 { background: #cfe3f3; } .q2 { background: #e6f0f8; } .q3 { background: #f1f1f1; } .q4 { background: #e2e2e2; }
tr.group th { background: none; border-bottom: 1px solid #b8c0c8; padding-top: 12px; font-size: 0.9rem; }
abbr { text-decoration: none; border-bottom: 1px dotted var(--muted); cursor: help; }
ul.flags { margin: 0; }
@media screen and (max-width: 820px) { body { padding: 0 10px; }
  .body { grid-template-columns: minmax(0, 1fr); grid-template-areas: "position" "trend" "values" "notes"; } }
@media print {
  @page { size: A4; margin: 10mm; }
  body { font-size: 10pt; max-width: none; padding: 0; }
  table { font-size: 8pt; } th, td { padding: 1px 6px; } .definition { font-size: 9pt; }
  figcaption, .unit, .note, ol.footnotes { font-size: 8pt; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  section.section, #summary { break-before: page; }
  article.indicator { break-inside: avoid; border: none; border-top: 1px solid var(--line); border-radius: 0; padding: 8px 0; }
  h2, h3 { break-after: avoid; }
  tr { break-inside: avoid; }
  tr.highlight td, th, .q { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
