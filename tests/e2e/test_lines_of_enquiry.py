"""Lines of enquiry on the sample's annual cycle: the published mart, its CSV, the
participant report's first section, the asset's preview, and disclosure control.

Expected figures are taken from the release's other marts (mart_participant_position,
mart_benchmark, fct_indicator_values) and recomputed here, not from the enquiry code."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import duckdb
import pytest

from reporting.templating import fmt_number

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]


@pytest.fixture(scope="module")
def release(cycle) -> Path:
    current = cycle.home / "releases" / "current"
    assert (current / "mhbench.duckdb").exists(), cycle.run_output
    return current.resolve()


@pytest.fixture(scope="module")
def con(release):
    con = duckdb.connect(str(release / "mhbench.duckdb"), read_only=True)
    yield con
    con.close()


def test_one_row_per_published_value_with_distance_in_iqrs(con):
    rows = con.execute(
        "select e.value, e.distance_iqr, p.value, b.median, b.p75 - b.p25, e.n_caveats, "
        "len(e.caveats), len(e.peers) "
        "from marts.mart_lines_of_enquiry e "
        "join marts.mart_participant_position p using (participant_code, collection_year, "
        "indicator_code) "
        "join marts.mart_benchmark b using (indicator_code, collection_year)"
    ).fetchall()
    positions = con.execute("select count(*) from marts.mart_participant_position").fetchone()[0]
    assert len(rows) == positions > 0
    for value, distance, published, median, iqr, n_caveats, caveats, peers in rows:
        assert value == published
        if iqr:
            assert distance == pytest.approx((published - median) / iqr)
        assert n_caveats == caveats and peers <= 3


def test_no_enquiry_quotes_a_value_that_is_not_published(cycle, con):
    """Every value and every peer's value is a published, unsuppressed value of the release;
    what the warehouse suppressed has no row and is nobody's peer."""
    unpublished = con.execute(
        "with peer_rows as (select collection_year, indicator_code, unnest(peers) as p "
        "  from marts.mart_lines_of_enquiry) "
        "select count(*) from peer_rows r left join marts.fct_indicator_values v "
        "  on v.participant_code = r.p.participant_code "
        "  and v.collection_year = r.collection_year and v.indicator_code = r.indicator_code "
        "where v.value is null or v.suppressed or v.value <> r.p.value"
    ).fetchone()[0]
    assert unpublished == 0
    with duckdb.connect(str(cycle.home / "warehouse" / "build.duckdb"), read_only=True) as wh:
        suppressed = set(
            wh.execute(
                "select participant_code, collection_year, indicator_code "
                "from marts.fct_indicator_values where suppressed"
            ).fetchall()
        )
    assert suppressed, "the sample has suppressed values (small counts, an error finding)"
    rows = set(
        con.execute(
            "select participant_code, collection_year, indicator_code "
            "from marts.mart_lines_of_enquiry"
        ).fetchall()
    )
    peers = set(
        con.execute(
            "select p.participant_code, collection_year, indicator_code from "
            "(select collection_year, indicator_code, unnest(peers) as p "
            " from marts.mart_lines_of_enquiry)"
        ).fetchall()
    )
    assert not (rows | peers) & suppressed


def test_csv_flattens_the_peers(con, release):
    with (release / "csv" / "mart_lines_of_enquiry.csv").open(newline="", encoding="utf-8") as fh:
        by_key = {
            (r["participant_code"], int(r["collection_year"]), r["indicator_code"]): r
            for r in csv.DictReader(fh)
        }
    rows = con.execute(
        "select participant_code, collection_year, indicator_code, peers "
        "from marts.mart_lines_of_enquiry where len(peers) > 0"
    ).fetchall()
    assert rows
    for code, year, indicator, peers in rows:
        cells = by_key[(code, year, indicator)]["peers"].split("; ")
        assert [c.split(" (")[0] for c in cells] == [p["participant_code"] for p in peers]
        assert all(re.fullmatch(r"[A-Z-]+ \(-?[\d.e+-]+\)", c) for c in cells), cells


def _section_items(page: str, heading: str) -> list[str]:
    """The sentences of the list after `heading` in the Lines of enquiry section."""
    section = page[page.index('<section id="enquiries">') :]
    section = section[: section.index("</section>")]
    part = section[section.index(heading) :]
    part = part[: part.index("</ol>")] if "</ol>" in part else ""
    return [
        html.unescape(re.sub(r"\s+", " ", s)).strip()
        for s in re.findall(r'<p class="sentence">(.*?)</p>', part, flags=re.S)
    ]


def test_participant_report_opens_with_the_lines_of_enquiry(cycle, con, release, tmp_path):
    from reporting.benchmark_report import write_benchmark_report

    page = write_benchmark_report(release, "SE", tmp_path / "se.html").read_text()
    main = page[page.index("<main>") :]
    assert main.lstrip("<main>").lstrip().startswith('<section id="enquiries">')

    year = con.execute("select max(collection_year) from marts.mart_lines_of_enquiry").fetchone()
    year = year[0]
    names = dict(
        con.execute(
            "select participant_code, participant_name from marts.dim_participant"
        ).fetchall()
    )
    indicators = dict(
        con.execute("select indicator_code, indicator_name from marts.dim_indicator").fetchall()
    )
    top = con.execute(
        "select e.indicator_code, p.value, b.median, b.n, e.peers from marts.mart_lines_of_enquiry e "
        "join marts.mart_participant_position p using (participant_code, collection_year, "
        "indicator_code) join marts.mart_benchmark b using (indicator_code, collection_year) "
        "where participant_code = 'SE' and collection_year = ? order by e.score desc, "
        "e.indicator_code limit 5",
        [year],
    ).fetchall()
    sentences = _section_items(page, "Largest differences")
    assert len(sentences) == len(top) == 5
    for sentence, (code, value, median, n, peers) in zip(sentences, top, strict=True):
        name = indicators[code]
        assert sentence.startswith(
            "Sweden's " + (name[0].lower() + name[1:] if name[1].islower() else name)
        )
        side = "higher" if value > median else "lower"
        pct = abs(value - median) / abs(median) * 100
        assert f" is {pct:.0f} % {side} than the median of {n} participants (" in sentence
        assert fmt_number(value) in sentence and f"against {fmt_number(median)})" in sentence
        if peers:
            peer_names = [names[p["participant_code"]] for p in peers]
            listed = (
                ", ".join(peer_names[:-1]) + " and " + peer_names[-1]
                if len(peer_names) > 1
                else peer_names[0]
            )
            assert (
                f"; {listed} {'are' if len(peer_names) > 1 else 'is'} at the other end" in sentence
            )

    changes = con.execute(
        "select indicator_code, change_pct from marts.mart_lines_of_enquiry "
        "where participant_code = 'SE' and collection_year = ? and change_unusual "
        "order by enquiry_rank limit 3",
        [year],
    ).fetchall()
    change_sentences = _section_items(page, "Largest unusual changes")
    assert len(change_sentences) == len(changes)
    for sentence, (_code, change) in zip(change_sentences, changes, strict=True):
        verb = "rose" if change > 0 else "fell"
        assert f" {verb} by {abs(change):.1f} % from {year - 1} to {year} (" in sentence
    # The chart of the differences is drawn.
    assert 'class="chart chart-enquiries"' in page


def test_release_report_of_all_participants_has_no_enquiry_section(release):
    page = (release / "report.html").read_text()
    assert '<section id="enquiries">' not in page


def test_asset_metadata_previews_the_top_enquiries_of_the_latest_year(cycle, con):
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(cycle.home / "dagster"))
    try:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "mart_lines_of_enquiry"])
        )
    finally:
        instance.dispose()
    metadata = event.asset_materialization.metadata
    latest = con.execute("select max(collection_year) from marts.mart_lines_of_enquiry").fetchone()
    assert metadata["latest_year"].value == latest[0]
    first = con.execute(
        "select participant_code, indicator_code from marts.mart_lines_of_enquiry "
        "where collection_year = ? and is_enquiry and enquiry_rank <= 3 "
        "order by score desc, participant_code, indicator_code limit 1",
        [latest[0]],
    ).fetchone()
    table = metadata["top_enquiries"].value
    assert table.splitlines()[2].startswith(f"| {first[0]} | {first[1]} |")
    assert metadata["enquiries_shown"].value > 0


def test_release_report_suggests_exchanges_with_its_method(con, release):
    page = html.unescape((release / "report.html").read_text())
    section = page[page.index('<section class="section" id="exchange">') :]
    section = re.sub(r"\s+", " ", section[: section.index("</section>")])
    assert "Method (mart_exchange_suggestions)" in section
    assert "within a factor of 4" in section and "at most 25 %" in section
    year = con.execute(
        "select max(collection_year) from marts.mart_exchange_suggestions"
    ).fetchone()
    names = dict(
        con.execute(
            "select participant_code, participant_name from marts.dim_participant"
        ).fetchall()
    )
    pairs = con.execute(
        "select participant_a, participant_b, population_a, population_b, spend_per_head_a, "
        "spend_per_head_b, mean_gap_iqr from marts.mart_exchange_suggestions "
        "where collection_year = ? and suggestion_rank = 1",
        [year[0]],
    ).fetchall()
    assert pairs, "the sample has pairs alike in context and far apart in a section"
    a, b, pop_a, pop_b, spend_a, spend_b, gap = pairs[0]
    # Alike in context, recomputed here from the published context figures.
    assert max(pop_a, pop_b) / min(pop_a, pop_b) <= 4
    assert abs(spend_a - spend_b) / min(spend_a, spend_b) <= 0.25
    assert gap >= 1
    assert f"{names[a]} – {names[b]}" in section
