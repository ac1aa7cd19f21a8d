"""The home's chart cache: a report draws only the charts whose data changed, and a report
made with the cache is the report drawn without it.

On the hand-made release of test_templates (two participants, one indicator over two years),
so each chart is known: the position chart of the latest year and the trend chart, plus the
lines of enquiry chart of a highlighted participant.
"""

from __future__ import annotations

import os
import re
import time

import duckdb

from reporting.benchmark_report import render_benchmark_report
from reporting.chart_cache import KEEP_DAYS, ChartCache
from tests.unit.test_templates import MANIFEST, make_release

# The page says how long it took to draw; nothing else in it may differ.
_GENERATOR = re.compile(r'<meta name="generator"[^>]*>')


def _page(release, cache=None, participant=None) -> str:
    page = render_benchmark_report(release, participant, manifest=MANIFEST, chart_cache=cache)
    return _GENERATOR.sub("", page)


def test_a_report_from_the_cache_is_the_report_drawn_without_it(tmp_path):
    release = make_release(tmp_path / "r")
    drawn = _page(release)

    first = ChartCache(tmp_path / "charts")
    assert _page(release, first) == drawn
    assert (first.hits, first.misses) == (0, 2)  # the position and the trend chart
    assert len(list((tmp_path / "charts").glob("*.json"))) == 2

    again = ChartCache(tmp_path / "charts")
    assert _page(release, again) == drawn
    assert (again.hits, again.misses) == (2, 0)
    assert "<svg" in drawn and drawn.count("chart-trend") == 1


def test_a_changed_value_redraws_only_the_charts_it_is_in(tmp_path):
    release = make_release(tmp_path / "r")
    _page(release, ChartCache(tmp_path / "charts"))
    # Norway's 2023 value is in the trend chart only: the position chart is of 2024
    with duckdb.connect(str(release / "mhbench.duckdb")) as con:
        con.execute(
            "update marts.fct_indicator_values set value = 21.0 "
            "where participant_code = 'NO' and collection_year = 2023"
        )

    cache = ChartCache(tmp_path / "charts")
    page = _page(release, cache)

    assert (cache.hits, cache.misses) == (1, 1)
    assert page == _page(release)
    assert len(list((tmp_path / "charts").glob("*.json"))) == 3


def test_a_participants_highlight_is_a_chart_of_its_own(tmp_path):
    release = make_release(tmp_path / "r")
    cache = ChartCache(tmp_path / "charts")
    _page(release, cache)

    highlighted = ChartCache(tmp_path / "charts")
    page = _page(release, highlighted, participant="SE")

    assert highlighted.hits == 0, "no chart of the page without a highlight is reused"
    assert page == _page(release, participant="SE")


def test_an_unreadable_or_foreign_file_in_the_cache_is_drawn_again(tmp_path):
    release = make_release(tmp_path / "r")
    drawn = _page(release)
    _page(release, ChartCache(tmp_path / "charts"))
    broken, foreign = sorted((tmp_path / "charts").glob("*.json"))
    broken.write_text('{"attributes": "<svg', encoding="utf-8")  # cut short
    foreign.write_text('{"label": "not a chart"}', encoding="utf-8")

    cache = ChartCache(tmp_path / "charts")
    assert _page(release, cache) == drawn
    assert (cache.hits, cache.misses) == (0, 2)
    # both are whole charts again
    assert _page(release, (kept := ChartCache(tmp_path / "charts"))) == drawn
    assert (kept.hits, kept.misses) == (2, 0)


def test_charts_not_used_for_the_keep_days_are_removed(tmp_path):
    release = make_release(tmp_path / "r")
    _page(release, ChartCache(tmp_path / "charts"))
    old = tmp_path / "charts" / ("0" * 64 + ".json")
    old.write_text("{}", encoding="utf-8")
    long_ago = time.time() - (KEEP_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    used = sorted(p for p in (tmp_path / "charts").glob("*.json") if p != old)
    for path in used:  # drawn long ago, but used by the next report: kept
        os.utime(path, (long_ago, long_ago))

    cache = ChartCache(tmp_path / "charts")
    _page(release, cache)

    assert cache.hits == 2
    assert not old.exists()
    assert sorted((tmp_path / "charts").glob("*.json")) == used


def test_a_cache_that_cannot_be_written_costs_the_drawing_not_the_report(tmp_path):
    release = make_release(tmp_path / "r")
    (tmp_path / "charts").write_text("a file where the cache's folder should be")

    cache = ChartCache(tmp_path / "charts")
    assert _page(release, cache) == _page(release)
    assert cache.misses == 2 and cache.not_kept is not None
    assert cache.not_kept.startswith("FileExistsError")
