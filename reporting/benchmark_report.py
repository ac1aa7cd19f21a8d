"""The benchmarking report of a release: one self-contained HTML file for analysts.

    write_benchmark_report(release_path)                      # releases/<id>/report.html
    write_benchmark_report(release_path, "SE", Path("se.html"))

It reads only the release (mhbench.duckdb read-only, manifest.json): no network, no
CDN, CSS inline, charts inline SVG drawn with matplotlib. For the latest collection year
(or `year`), per indicator grouped by section: where every participant stands (bars,
median and quartiles of mart_benchmark), the trend over the years, the values with
flags and footnotes (a suppressed value reads "suppressed", not blank), then the data
quality of the returns and the validation findings.

Rank, quartile, change on the previous year, breaks in series, data quality and findings
are read from their marts (mart_participant_position, mart_trends, mart_data_quality,
mart_validation_findings) and never computed here: the publication gate guarantees that a
release has them, and a folder without them is refused with a ReportError naming them.
The page is the template `templates/benchmark_report.html` (see reporting/templating.py).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.dictionary import load_flags
from reporting.enquiries import ENQUIRY_MART, Enquiries, load_enquiries
from reporting.exchange import EXCHANGE_MART, load_exchange_suggestions, method_settings
from reporting.quality_report import QUALITY_FILE
from reporting.templating import fmt_cell, render, watermark_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from reporting.chart_cache import ChartCache

REPORT_FILE = "report.html"
RELEASE_DB = "mhbench.duckdb"
# What the report reads; every release has them (each is a mart of the publication gate).
REQUIRED_MARTS = (
    "dim_participant",
    "dim_indicator",
    "fct_indicator_values",
    "mart_benchmark",
    "mart_participant_position",
    "mart_trends",
    "mart_data_quality",
    "mart_validation_findings",
)

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
# What a flag means comes from the seed `flags` (its one home); the other null reasons are
# the ones fct_indicator_values gives.
FLAG_MEANINGS = {code: flag.meaning for code, flag in load_flags().items()}
NULL_REASONS = {
    **{code: flag.meaning for code, flag in load_flags().items() if not flag.has_value},
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
    """The report cannot be made as asked (unknown participant or year, no release, or a
    release without the marts the report reads)."""


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
    quality: tuple[list[str], list[list[Any]]] = ([], [])  # columns, rows of mart_data_quality
    findings: tuple[list[str], list[list[Any]]] = ([], [])  # of mart_validation_findings
    marts: set[str] = field(default_factory=set)
    quality_link: str | None = None  # the release's quality.html, linked when beside the report
    enquiries: Enquiries | None = None  # the participant's lines of enquiry (when the mart exists)
    exchange: dict[str, list[dict]] | None = (
        None  # section -> pairs (release report, when the mart exists)
    )
    # what every participant's report of the release shows alike, made once and shared by
    # their ReportData (dataclasses.replace keeps the same dict): `_value_table` and
    # `_participants_with_values`
    per_release: dict[Any, Any] = field(default_factory=dict)

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
    charts: bool = True,
    chart_cache: ChartCache | None = None,
) -> Path:
    """Write the report of the release at release_path; its path.

    Default output is `<release_path>/report.html`. `participant` (e.g. "SE") is the one
    highlighted in every chart; without it no participant is highlighted. `year` defaults
    to the latest collection year with a published value. `manifest` is the release's
    manifest when it is not written yet (publish writes it last); default: manifest.json.
    `charts=False` leaves out the two charts of every indicator (a draft pack: the
    participant's tables and lines of enquiry, in a fraction of the time; the release's own
    report.html has the charts). With `chart_cache` (the home's), a chart drawn before from
    the same data is taken from it.
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
        charts=charts,
        chart_cache=chart_cache,
    )
    return _write_page(output, page)


def write_participant_reports(
    release_path: Path,
    outputs: dict[str, Path],
    *,
    year: int | None = None,
    charts: bool = True,
    manifest: dict | None = None,
    chart_cache: ChartCache | None = None,
    claim: Callable[[str], bool] | None = None,
) -> list[Path]:
    """Each participant's report (`outputs`: participant code -> path, in that order), the
    release read once; the reports written.

    What every report shows alike (values, benchmarks, positions, trends, data quality) is
    loaded once; each participant adds its lines of enquiry and its findings. The draft packs
    of 50 participants spent most of their time reading the same release 50 times.
    `manifest` and `chart_cache` as for write_benchmark_report (a release being published has
    no manifest written). With `claim`, two processes share the reports, taking them from
    either end of the same list (reporting/packs_process.py): a report is written only once
    claimed, and the first one the other process holds ends the list here.
    """
    import duckdb

    release_path = Path(release_path)
    shared = load_report_data(release_path, None, year, manifest=manifest)
    written = []
    with duckdb.connect(str(release_path / RELEASE_DB), read_only=True) as con:
        for participant, output in outputs.items():
            if claim is not None and not claim(participant):
                break
            started = time.perf_counter()
            data = _for_participant(con, shared, participant)
            written.append(_write_page(Path(output), _render(data, started, charts, chart_cache)))
    return written


def _write_page(output: Path, page: str) -> Path:
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
    charts: bool = True,
    chart_cache: ChartCache | None = None,
) -> str:
    """The report as an HTML string (see write_benchmark_report)."""
    started = time.perf_counter()
    data = load_report_data(Path(release_path), participant, year, manifest=manifest)
    if link_quality and (Path(release_path) / QUALITY_FILE).exists():
        data.quality_link = QUALITY_FILE
    return _render(data, started, charts, chart_cache)


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
        missing = [mart for mart in REQUIRED_MARTS if mart not in marts]
        if missing:
            raise ReportError(
                f"release {release_path.name} lacks {', '.join(missing)}: the report reads "
                "them, and the publication gate puts them in every release"
            )
        participants = {
            r["participant_code"]: r
            for r in _records(con, "select * from marts.dim_participant order by participant_code")
        }
        if participant is not None:
            participant = _known_participant(participant, participants)
        indicators = _records(con, "select * from marts.dim_indicator")
        values: dict[tuple[str, int, str], Row] = {}
        for r in _records(
            con,
            "select indicator_code, collection_year, participant_code, value, flags, "
            "coalesce(suppressed, false) as suppressed, null_reason, footnote "
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
            participant=None,
            participants=participants,
            indicators=indicators,
            values=values,
            benchmark=benchmark,
            marts=marts,
        )
        _load_positions(con, data)
        _load_trends(con, data)
        data.quality = _load_quality(con, data)
        if participant is not None:
            return _for_participant(con, data, participant)
        if EXCHANGE_MART in marts:
            data.exchange = load_exchange_suggestions(
                con,
                year,
                _names(data),
                {i["indicator_code"]: i["indicator_name"] for i in indicators},
            )
        data.findings = _load_findings(con, data)
    return data


def _known_participant(participant: str, participants: dict[str, dict]) -> str:
    code = participant.strip().upper()
    if code not in participants:
        raise ReportError(
            f"unknown participant {participant!r}; known: {', '.join(sorted(participants))}"
        )
    return code


def _for_participant(con, shared: ReportData, participant: str) -> ReportData:
    """`shared` (the report without a participant) as `participant`'s report: its lines of
    enquiry and its findings added, the exchange suggestions (the release report's) left out.
    `shared` itself is not changed."""
    code = _known_participant(participant, shared.participants)
    data = replace(shared, participant=code, exchange=None, enquiries=None, quality_link=None)
    if ENQUIRY_MART in data.marts:
        data.enquiries = load_enquiries(
            con,
            code,
            data.year,
            _names(data),
            {i["indicator_code"]: i for i in data.indicators},
        )
    data.findings = _load_findings(con, data)
    return data


def _records(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _load_positions(con, data: ReportData) -> None:
    """Rank, n and quartile of each participant with a value in the report year."""
    for r in _records(
        con,
        "select indicator_code, participant_code, rank, n, quartile "
        "from marts.mart_participant_position where collection_year = ?",
        [data.year],
    ):
        data.positions[(r["indicator_code"], r["participant_code"])] = r


def _load_trends(con, data: ReportData) -> None:
    """Breaks in series (every year) and the change on the previous year (the report year)."""
    for r in _records(
        con,
        "select participant_code, indicator_code, collection_year, break_in_series, change_pct "
        "from marts.mart_trends",
    ):
        key = (r["indicator_code"], r["participant_code"])
        if r["break_in_series"]:
            data.breaks.setdefault(key, set()).add(r["collection_year"])
        if r["collection_year"] == data.year:
            data.changes[key] = r["change_pct"]


def _columns_and_rows(cursor, hidden: set[str]) -> tuple[list[str], list[list[Any]]]:
    columns = [d[0] for d in cursor.description]
    shown = [i for i, c in enumerate(columns) if c not in hidden]
    return [columns[i] for i in shown], [[row[i] for i in shown] for row in cursor.fetchall()]


def _load_quality(con, data: ReportData) -> tuple[list[str], list[list[Any]]]:
    """Data quality per participant for the report year (mart_data_quality)."""
    cursor = con.execute(
        "select * from marts.mart_data_quality where collection_year = ? order by participant_code",
        [data.year],
    )
    return _columns_and_rows(cursor, {"collection_year"})


def _load_findings(con, data: ReportData) -> tuple[list[str], list[list[Any]]]:
    """Findings of the report year (of the participant, when there is one), at most 500."""
    sql = "select * from marts.mart_validation_findings where collection_year = ?"
    params: list[Any] = [data.year]
    if data.participant:
        sql += " and participant_code = ?"
        params.append(data.participant)
    sql += " order by participant_code, severity, rule_id limit 500"
    hidden = {"collection_year", "submission_id", "file_sha256"}
    return _columns_and_rows(con.execute(sql, params), hidden)


# -- rendering --------------------------------------------------------------------------------
# What each part of the page shows is decided here, as plain data; how it looks is the
# template's (templates/benchmark_report.html and its partials), which escapes every text.


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


def _render(
    data: ReportData,
    started: float,
    draw_indicators: bool = True,
    chart_cache: ChartCache | None = None,
) -> str:
    from reporting.charts import Charts

    by_section: dict[str, list[dict]] = defaultdict(list)
    for indicator in sorted(data.indicators, key=lambda i: i["indicator_code"]):
        by_section[indicator["section"]].append(indicator)

    sections: list[dict] = []
    summary: list[dict] = []  # per section, the participant's row of each indicator
    n_charts = 0
    with Charts(chart_cache) as charts:
        for section in _section_order(data.indicators):
            indicators = []
            for indicator in by_section[section]:
                n_charts += 1
                indicators.append(
                    _indicator(data, indicator, charts if draw_indicators else None, n_charts)
                )
            sections.append(
                {"id": section, "title": _section_title(section), "indicators": indicators}
            )
            if data.participant:
                summary.append(
                    {
                        "title": _section_title(section),
                        "rows": [
                            _summary_row(data, indicator) for indicator in by_section[section]
                        ],
                    }
                )

        enquiries = _enquiries(data, charts)

    names = _names(data)
    return render(
        "benchmark_report.html",
        watermark=watermark_for(data.manifest),
        report={
            "year": data.year,
            "first_year": data.years[0],
            "last_year": data.years[-1],
            "participant": data.participant,
            "participant_name": data.participant_name,
            "release_id": data.release_id,
            "created_at": data.manifest.get("created_at", ""),
            "dictionary_version": data.manifest.get("dictionary_version", ""),
            "code_version": data.manifest.get("code_version", ""),
            "participants_with_values": _participants_with_values(data),
            "n_indicators": len(data.indicators),
            "marts": ", ".join(sorted(data.marts)),
            "quality_link": data.quality_link,
            "charts": draw_indicators,
        },
        sections=sections,
        summary=summary,
        enquiries=enquiries,
        exchange=_exchange(data),
        quality=_table(*data.quality, data.participant, names),
        findings=_table(*data.findings, data.participant, names) if data.findings[1] else None,
        flag_meanings=FLAG_MEANINGS,
        n_charts=n_charts,
        elapsed=time.perf_counter() - started,
    )


def _exchange(data: ReportData) -> dict | None:
    """The exchange suggestions page: pairs by section, in the report's section order."""
    if data.exchange is None:
        return None
    sections = [
        {"title": _section_title(section), "pairs": data.exchange[section]}
        for section in _section_order(data.indicators)
        if data.exchange.get(section)
    ]
    return {"sections": sections, **method_settings()}


def _enquiries(data: ReportData, charts) -> dict | None:
    """The "Lines of enquiry" section: the worded enquiries and their chart."""
    from reporting.charts import EnquiryBar

    found = data.enquiries
    if found is None:
        return None
    bars = [
        EnquiryBar(d["name"], d["distance_iqr"], d["direction"])
        for d in found.differences
        if d["distance_iqr"] is not None
    ]
    chart = (
        charts.enquiries(
            bars, prefix="enq", label=f"Lines of enquiry of {data.participant_name}, {data.year}"
        )
        if bars
        else None
    )
    return {
        "differences": found.differences,
        "changes": found.changes,
        "n_enquiries": found.n_enquiries,
        "n_rows": found.n_rows,
        "chart": chart,
    }


@dataclass(frozen=True, slots=True)
class ValueRow:
    """A row of an indicator's values table. Attributes, not dict keys: Jinja looks a name up
    as an attribute first, and a dict's missing attribute costs an exception per cell (1.3 s
    of the 51 pages of a draft at 50 participants)."""

    name: str
    value: float | None
    status: str | None
    rank: int | None
    flags: list[tuple[str, str, str]]  # (the separator before it, the flag, its meaning)
    refs: str
    highlight: bool


def _value_table(data: ReportData, code: str) -> tuple[list[Row], list[ValueRow], list[str]]:
    """An indicator's values in the report year, highest first, as the table's rows (none
    highlighted) and the footnotes they cite (numbered once per indicator). The same for every
    participant's report of a release: made once, in `data.per_release` (the 50 packs at 50
    participants built each table 50 times, a quarter of their time)."""
    kept = data.per_release.get(("value_table", code))
    if kept is not None:
        return kept
    rows = [
        data.values[(code, data.year, p)]
        for p in data.participants
        if (code, data.year, p) in data.values
    ]
    rows.sort(key=lambda r: (r.value is None, -(r.value or 0), r.participant_code))
    notes: dict[str, int] = {}
    table_rows = []
    for r in rows:
        refs = [notes.setdefault(note, len(notes) + 1) for note in _split_footnote(r.footnote)]
        table_rows.append(
            ValueRow(
                name=_name(data, r.participant_code),
                value=r.value,
                status=r.status,
                rank=data.positions.get((code, r.participant_code), {}).get("rank"),
                flags=_flag_marks(r.flags),
                refs=", ".join(str(n) for n in refs),
                highlight=False,
            )
        )
    kept = data.per_release[("value_table", code)] = (rows, table_rows, list(notes))
    return kept


def _participants_with_values(data: ReportData) -> int:
    """How many participants have a value in the report year (made once per release)."""
    if "with_values" not in data.per_release:
        data.per_release["with_values"] = len(
            {
                p
                for (_, y, p), row in data.values.items()
                if y == data.year and row.value is not None
            }
        )
    return data.per_release["with_values"]


def _indicator(data: ReportData, indicator: dict, charts, index: int) -> dict:
    """One indicator's article: its charts (none when `charts` is None), its values table and
    the notes on them."""
    from reporting.charts import Bar

    code = indicator["indicator_code"]
    unit = indicator.get("unit_label") or ""
    stats = data.benchmark.get((code, data.year), {})
    rows, table_rows, notes = _value_table(data, code)
    if data.participant:
        table_rows = [
            replace(t, highlight=True) if r.participant_code == data.participant else t
            for r, t in zip(rows, table_rows, strict=True)
        ]
    position_chart = trend_chart = None
    if charts is not None:
        bars = [
            Bar(
                _name(data, r.participant_code),
                r.value,
                r.status,
                r.participant_code == data.participant,
            )
            for r in rows
        ]
        position_chart = charts.position(
            bars,
            stats.get("median"),
            stats.get("p25"),
            stats.get("p75"),
            unit,
            prefix=f"p{index}",
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
        trend_chart = charts.trend(
            series,
            median,
            data.participant,
            sorted(data.breaks.get((code, data.participant or ""), set())),
            unit,
            prefix=f"t{index}",
            label=f"{indicator['indicator_name']} over the years",
        )

    return {
        "code": code,
        "name": indicator["indicator_name"],
        "unit_label": indicator.get("unit_label"),
        "better": {True: "higher is better", False: "lower is better"}.get(
            indicator.get("higher_is_better"), ""
        ),
        "definition": indicator.get("definition"),
        "position_chart": position_chart,
        "trend_chart": trend_chart,
        "stats": stats or None,
        "participant_without_value": bool(data.participant)
        and not any(
            (code, y, data.participant) in data.values
            and data.values[(code, y, data.participant)].value is not None
            for y in data.years
        ),
        "break_in_series": bool(data.participant and data.breaks.get((code, data.participant))),
        "rows": table_rows,
        "notes": notes,
    }


def _flag_marks(flags: str | None) -> list[tuple[str, str, str]]:
    """A value's flags for its table cell: (separator, flag, meaning), the separator written
    here so that the template's loop needs no `loop.first` (Jinja then makes no loop object
    per cell: 132,000 cells in the 50 draft packs at 50 participants, a tenth of their time)."""
    codes = [f for f in (flags or "").split(",") if f]
    return [(", " if n else "", f, FLAG_MEANINGS.get(f, f)) for n, f in enumerate(codes)]


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


def _summary_row(data: ReportData, indicator: dict) -> dict:
    """The participant's line of an indicator in "at a glance"."""
    code = indicator["indicator_code"]
    stats = data.benchmark.get((code, data.year), {})
    row = data.values.get((code, data.year, data.participant or ""))
    position = data.positions.get((code, data.participant or ""), {})
    quartile = position.get("quartile")
    change = data.changes.get((code, data.participant or ""))
    return {
        "code": code,
        "name": indicator["indicator_name"],
        "value": row.value if row else None,
        "status": "no return" if row is None else row.status,
        "median": stats.get("median"),
        "rank": (
            f"{position['rank']} of {position.get('n') or stats.get('n', '')}" if position else ""
        ),
        "quartile": quartile,
        "quartile_words": QUARTILE_WORDS.get(quartile, quartile) if quartile else None,
        "change": f"{change:+.1f}%" if change is not None else "",
        "flags": row.flags if row else "",
    }


def _table(
    columns: list[str], rows: list[list[Any]], participant: str | None, names: dict[str, str]
) -> dict:
    """A plain table of a mart; a first column of participant codes reads as names, the
    chosen participant's rows highlighted."""
    head = [c.replace("_", " ") for c in columns]
    if columns and columns[0] == "participant_code":
        head[0] = "participant"
    by_participant = bool(columns) and columns[0] in ("participant_code", "participant")
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i == 0 and by_participant:
                cells.append({"text": f"{names.get(v, v)} ({v})", "num": False})
            else:
                number = isinstance(v, int | float) and not isinstance(v, bool)
                cells.append({"text": fmt_cell(v), "num": number})
        body.append(
            {"highlight": bool(participant and row and row[0] == participant), "cells": cells}
        )
    return {"head": head, "rows": body}
