"""build_release on a small hand-made warehouse: CSV safety, manifest, leftovers, lookup."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import duckdb
import pytest

from expectations.drift import drift_summary
from publishing.store import (
    MANIFEST,
    build_release,
    current_release,
    list_releases,
    resolve_release,
    switch_current,
    verify_release,
)
from reporting.release_pages import QUALITY_FILE, release_page_writer
from runtime.home import Home

# The quality page only: report.html needs dimension marts this warehouse does not have.
QUALITY_ONLY = release_page_writer(benchmark_report=False)
MARTS = ["fct_notes", "mart_benchmark"]
SHA = "a" * 64
DANGEROUS = ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@SUM(A1:A9)", "\tcmd"]


def make_warehouse(home: Home) -> None:
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_latest_submissions as "
            f"select * from (values ('s1', 'SE', 2023, '{SHA}'), ('s2', 'NO', 2023, '{'b' * 64}')) "
            "t(submission_id, participant_code, collection_year, file_sha256)"
        )
        # the participant-years of the release being built (dbt's int_release_scope)
        con.execute(
            "create table intermediate.int_release_scope as "
            "select submission_id, participant_code, collection_year, 'approved' as state "
            "from intermediate.int_latest_submissions"
        )
        con.execute(
            "create table marts.fct_notes (participant_code varchar, collection_year integer, "
            "value double, n integer, comment varchar)"
        )
        rows = [("SE", 2023, -2.5, -2, text) for text in DANGEROUS]
        rows += [("NO", 2023, 1.5, 3, "plain text, with a comma"), ("NO", 2024, None, None, None)]
        con.executemany("insert into marts.fct_notes values (?, ?, ?, ?, ?)", rows)
        con.execute(
            "create table marts.mart_benchmark as select * from (values "
            "('IND_A', 2023, 3, 10.0), ('IND_B', 2023, 3, 100.0), ('IND_C', 2023, 3, 0.0)) "
            "t(indicator_code, collection_year, n, median)"
        )


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home").ensure()
    make_warehouse(home)
    return home


PASSED = [{"check": "marts/fct_notes:gx_fct_notes", "status": "SUCCEEDED", "blocking": True}]


def test_csv_neutralises_formulas_and_keeps_numbers(home):
    release = build_release(home, MARTS, PASSED, pages=QUALITY_ONLY)
    with (release.path / "csv" / "fct_notes.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert header == ["participant_code", "collection_year", "value", "n", "comment"]
    comments = [r[4] for r in rows]
    for text in DANGEROUS:
        assert "'" + text in comments
    assert not any(c[:1] in "=+-@\t" for c in comments if c)
    assert "plain text, with a comma" in comments
    se = [r for r in rows if r[0] == "SE"]
    # Numbers stay numbers: no quote, negative sign kept.
    assert {(r[2], r[3]) for r in se} == {("-2.5", "-2")}
    assert float(se[0][2]) == -2.5
    assert rows[-1][2:] == ["", "", ""]
    # The database and the Parquet keep the text as it was submitted.
    with duckdb.connect(str(release.database), read_only=True) as con:
        stored = {r[0] for r in con.execute("select comment from marts.fct_notes").fetchall()}
        parquet = release.path / "parquet" / "fct_notes.parquet"
        in_parquet = {r[0] for r in con.execute(f"select comment from '{parquet}'").fetchall()}
    assert set(DANGEROUS) <= stored and set(DANGEROUS) <= in_parquet


def test_manifest_records_what_was_published(home):
    release = build_release(
        home, MARTS, PASSED, pages=QUALITY_ONLY, release_id="20240101T000000000000Z"
    )
    manifest = json.loads((release.path / MANIFEST).read_text())
    assert manifest == release.manifest
    assert manifest["release_id"] == "20240101T000000000000Z"
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["code_version"] and len(manifest["dictionary_version"]) == 16
    assert manifest["marts"] == {"fct_notes": 7, "mart_benchmark": 3}
    assert manifest["submissions"] == [
        {
            "submission_id": "s2",
            "participant_code": "NO",
            "collection_year": 2023,
            "file_sha256": "b" * 64,
        },
        {
            "submission_id": "s1",
            "participant_code": "SE",
            "collection_year": 2023,
            "file_sha256": SHA,
        },
    ]
    assert manifest["checks"] == PASSED
    assert manifest["previous_release"] is None
    assert set(manifest["files"]) == {
        "mhbench.duckdb",
        "quality.html",
        "parquet/fct_notes.parquet",
        "parquet/mart_benchmark.parquet",
        "csv/fct_notes.csv",
        "csv/mart_benchmark.csv",
    }
    assert verify_release(release) == []
    with duckdb.connect(str(release.database), read_only=True) as con:
        schemas = {
            r[0]
            for r in con.execute(
                "select distinct table_schema from information_schema.tables"
            ).fetchall()
        }
    assert schemas == {"marts"}, "the release database holds the marts only"
    html = (release.path / QUALITY_FILE).read_text()
    assert "marts/fct_notes:gx_fct_notes" in html and "SUCCEEDED" in html


def test_verify_release_detects_a_tampered_file(home):
    release = build_release(home, MARTS, PASSED, pages=QUALITY_ONLY)
    csv_path = release.path / "csv" / "fct_notes.csv"
    csv_path.write_text(csv_path.read_text() + "XX,2023,1,1,x\n")
    assert verify_release(release) == ["csv/fct_notes.csv: sha256 differs from the manifest"]


def test_releases_are_immutable_and_current_moves(home):
    first = build_release(
        home, MARTS, PASSED, pages=QUALITY_ONLY, release_id="20240101T000000000000Z"
    )
    with pytest.raises(FileExistsError):
        build_release(home, MARTS, PASSED, pages=QUALITY_ONLY, release_id=first.release_id)
    second = build_release(
        home, MARTS, PASSED, pages=QUALITY_ONLY, release_id="20240102T000000000000Z"
    )
    assert second.manifest["previous_release"] == first.release_id
    assert [r.release_id for r in list_releases(home)] == [first.release_id, second.release_id]
    assert current_release(home).release_id == second.release_id
    assert resolve_release(home, "previous").release_id == first.release_id
    assert resolve_release(home, "current").release_id == second.release_id
    with pytest.raises(LookupError, match="no release 'nope'"):
        resolve_release(home, "nope")
    switch_current(home, first.release_id)
    assert os.readlink(home.current_release) == first.release_id
    with pytest.raises(FileNotFoundError):
        switch_current(home, "20990101T000000000000Z")


def test_a_draft_lands_under_drafts_and_never_becomes_current(home):
    final = build_release(
        home, MARTS, PASSED, pages=QUALITY_ONLY, release_id="20240101T000000000000Z"
    )
    scope = {"kind": "draft", "included": [{"participant_code": "SE"}], "left_out": []}
    draft = build_release(
        home,
        MARTS,
        PASSED,
        pages=QUALITY_ONLY,
        release_id="20240102T000000000000Z",
        kind="draft",
        scope=scope,
    )
    assert draft.path == home.drafts / draft.release_id
    assert draft.manifest["kind"] == "draft" and draft.manifest["participant_years"] == scope
    assert verify_release(draft) == []
    assert current_release(home).release_id == final.release_id
    assert [r.release_id for r in list_releases(home)] == [final.release_id]
    assert [r.release_id for r in list_releases(home, drafts=True)] == [draft.release_id]
    assert resolve_release(home, draft.release_id).path == draft.path
    assert "DRAFT — not for circulation" in (draft.path / QUALITY_FILE).read_text()
    assert "DRAFT" not in (final.path / QUALITY_FILE).read_text()
    with pytest.raises(ValueError, match="final or draft"):
        build_release(home, MARTS, PASSED, kind="preview")


def test_next_publish_removes_leftovers_of_a_killed_one(home):
    first = build_release(home, MARTS, PASSED, pages=QUALITY_ONLY)
    incoming = home.releases / ".incoming-20240101T000000000000Z"
    (incoming / "parquet").mkdir(parents=True)
    (incoming / "mhbench.duckdb").write_bytes(b"half")
    (incoming / MANIFEST).write_text("{}")
    stale_link = home.releases / ".current-999999"
    stale_link.symlink_to(first.release_id)
    no_manifest = home.releases / "20240101T000000000001Z"
    no_manifest.mkdir()
    assert [r.release_id for r in list_releases(home)] == [first.release_id]

    second = build_release(home, MARTS, PASSED, pages=QUALITY_ONLY)
    assert not incoming.exists() and not stale_link.is_symlink()
    assert current_release(home).release_id == second.release_id
    assert [r.release_id for r in list_releases(home)] == [first.release_id, second.release_id]


def test_drift_summary_lists_medians_that_moved(home):
    first = build_release(home, MARTS, PASSED, pages=QUALITY_ONLY)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("update marts.mart_benchmark set median = 16 where indicator_code = 'IND_A'")
        con.execute("update marts.mart_benchmark set median = 140 where indicator_code = 'IND_B'")
        con.execute("update marts.mart_benchmark set median = 5 where indicator_code = 'IND_C'")
        con.execute("insert into marts.mart_benchmark values ('IND_D', 2023, 3, 1.0)")
    summary = drift_summary(first.release_id, first.database, home.warehouse, threshold_pct=50)
    # IND_A +60% drifts; IND_B +40% does not; IND_C from 0 has no %; IND_D is new.
    assert summary["previous_release"] == first.release_id
    assert summary["compared"] == 2
    assert summary["drifting"] == [
        {
            "indicator_code": "IND_A",
            "collection_year": 2023,
            "previous_median": 10.0,
            "median": 16.0,
            "abs_pct_change": 60.0,
        }
    ]
    second = build_release(home, MARTS, PASSED, drift=summary, pages=QUALITY_ONLY)
    assert second.manifest["drift"]["drifting"][0]["indicator_code"] == "IND_A"
    assert "IND_A" in (second.path / QUALITY_FILE).read_text()
    assert drift_summary(None, None, home.warehouse)["drifting"] == []


def test_quality_report_lists_suite_expectations_and_failures(home):
    checks = [
        {
            "check": "marts/mart_benchmark:gx_mart_benchmark",
            "status": "SUCCEEDED",
            "blocking": True,
            "rows_validated": 3,
            "expectations_evaluated": 8,
            "expectations_failed": 0,
            "failures": [],
        },
        {
            "check": "marts/fct_indicator_values:gx_fct_indicator_values",
            "status": "FAILED",
            "blocking": True,
            "failures": [
                {
                    "expectation": "expect_column_values_to_be_between",
                    "column": "value",
                    "blocking": "True",
                    "detail": "expect_column_values_to_be_between on value (saw [-1.0])",
                }
            ],
        },
    ]
    release = build_release(home, MARTS, checks, pages=QUALITY_ONLY)
    html = (release.path / QUALITY_FILE).read_text()
    assert "expect_compound_columns_to_be_unique" in html  # from the mart_benchmark suite
    assert "saw [-1.0]" in html and 'class="fail">failed' in html
    assert Path(release.path / QUALITY_FILE).stat().st_size < 200_000


def make_data_docs_site(root: Path) -> tuple[Path, Path]:
    """A Data Docs site laid out as GE writes it (the pages' content is not GE's here)."""
    page = root / "validations" / "fct_notes" / "run-1" / "20240101T000000.000000Z" / "f.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<link rel="shortcut icon" href="../../../../static/images/favicon.ico"/>'
        '<a href="../../../../expectations/fct_notes.html">suite</a>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    )
    (root / "expectations").mkdir()
    (root / "expectations" / "fct_notes.html").write_text('<a href="../index.html">home</a>')
    (root / "index.html").write_text(
        '<link rel="shortcut icon" href="./static/images/favicon.ico"/>'
        "<script>data = [{'_table_row_link_path': 'validations/fct_notes/...'}]</script>"
    )
    for static in ("images/favicon.ico", "images/tutorial.gif", "fonts/Grotesk.otf"):
        (root / "static" / static).parent.mkdir(parents=True, exist_ok=True)
        (root / "static" / static).write_bytes(b"x" * 100)
    return root, page


def test_release_ships_the_data_docs_of_the_gate_run(home, tmp_path):
    site, page = make_data_docs_site(tmp_path / "gx-site")
    checks = [{**PASSED[0], "data_docs": str(page)}]
    release = build_release(home, MARTS, checks, pages=QUALITY_ONLY, gx_docs=site)

    gx = release.path / "docs" / "gx"
    shipped = {p.relative_to(gx).as_posix() for p in gx.rglob("*") if p.is_file()}
    # The pages, and of GE's static folder only what the pages link to.
    assert shipped == {
        "index.html",
        "expectations/fct_notes.html",
        "validations/fct_notes/run-1/20240101T000000.000000Z/f.html",
        "static/images/favicon.ico",
    }
    manifest = release.manifest
    assert manifest["docs"] == {"great_expectations": "docs/gx/index.html"}
    assert {f"docs/gx/{name}" for name in shipped} <= set(manifest["files"])
    # The check points at its page inside the release, not at the working site.
    [check] = manifest["checks"]
    assert (
        check["data_docs"] == "docs/gx/validations/fct_notes/run-1/20240101T000000.000000Z/f.html"
    )
    assert (release.path / check["data_docs"]).is_file()
    html = (release.path / QUALITY_FILE).read_text()
    assert '<a href="docs/gx/index.html">Great Expectations Data Docs</a>' in html
    assert f'<a href="{check["data_docs"]}">' in html
    assert verify_release(release) == []


def test_a_data_docs_page_outside_the_shipped_site_is_refused(home, tmp_path):
    site, _ = make_data_docs_site(tmp_path / "gx-site")
    _, elsewhere = make_data_docs_site(tmp_path / "another-run")
    checks = [{**PASSED[0], "data_docs": str(elsewhere)}]
    with pytest.raises(ValueError, match="not in the shipped site"):
        build_release(home, MARTS, checks, pages=QUALITY_ONLY, gx_docs=site)
    with pytest.raises(ValueError, match="not in the shipped site"):
        build_release(home, MARTS, checks, pages=QUALITY_ONLY)
    assert current_release(home) is None


def test_offline_page_fetches_nothing_and_lists_the_validations():
    from publishing.gx_docs import offline_page

    page = (
        "<html><head><title>Data Docs</title>"
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap.min.css">'
        '<link rel="icon" href="static/images/favicon.ico">'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        "<script>\n$('#table').bootstrapTable({data: []});\n</script>"
        "<style>.logo{background: url('https://s3.example/logo.png') 0 0 no-repeat;}</style>"
        "</head><body class='x'>"
        '<img src="https://great-expectations-web-assets.s3.amazonaws.com/logo.png?d=1">'
        "<table><tr><td>kept</td></tr></table></body></html>"
    )
    offline = offline_page(
        page,
        [
            ("mart_benchmark / 2026", "validations/a&b.html"),
            ("<script>run / 'x'</script>", 'validations/"><script>.html'),
        ],
    )
    assert "https://" not in offline and "<script" not in offline
    assert 'href="static/images/favicon.ico"' in offline  # local files stay
    assert "<td>kept</td>" in offline and "<style>" in offline
    assert "<body class='x'><div class=\"mhbench-offline\">" in offline
    assert '<a href="validations/a&amp;b.html">mart_benchmark / 2026</a>' in offline
    # Labels and hrefs are escaped by the template engine (Jinja2 writes ' as &#39;).
    assert (
        '<a href="validations/&#34;&gt;&lt;script&gt;.html">'
        "&lt;script&gt;run / &#39;x&#39;&lt;/script&gt;</a>"
    ) in offline
    assert offline.index("<style>") < offline.index("</head>")


def test_prune_run_sites_keeps_the_newest_and_the_current(tmp_path):
    import os

    from orchestration.defs.data_docs import prune_run_sites

    for age, name in enumerate(["run-e", "run-d", "run-c", "run-b", "run-a"]):
        site = tmp_path / name / "site"
        site.mkdir(parents=True)
        (site / "index.html").write_text(name)
        os.utime(tmp_path / name, (1_000_000 - age * 60, 1_000_000 - age * 60))
    # run-a is the oldest, but it is the run being materialized
    assert sorted(prune_run_sites(tmp_path, keep=3, current="run-a")) == ["run-b", "run-c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-a", "run-d", "run-e"]
    assert prune_run_sites(tmp_path / "missing") == []
