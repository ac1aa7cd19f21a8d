"""The whole annual cycle on the shipped sample, checked against an independent computation.

The expected values are recomputed here from the sample files themselves (read with
openpyxl and the csv module, not the project's parsers) and the seed CSVs (pandas, not
the project's SQL).
"""

from __future__ import annotations

import csv
import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
SUPPRESS_MAX = 7
# The marts a release publishes: a public contract with analysts (docs/architecture.md,
# "Contracts"), written out here rather than read from the code under test.
PUBLISHED_MARTS = {
    "dim_participant",
    "dim_indicator",
    "dim_data_item",
    "dim_year",
    "fct_return_values",
    "fct_indicator_values",
    "mart_benchmark",
    "mart_benchmark_peer_group",
    "mart_participant_position",
    "mart_trends",
    "mart_data_quality",
    "mart_validation_findings",
    "mart_lines_of_enquiry",
    "mart_exchange_suggestions",
}
ROUND_TO = 5


def _read_xlsx(path: Path) -> tuple[str, int, dict[str, tuple[float | None, str | None]]]:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True) if r and r[0]}
    values = {}
    rows = wb["Data"].iter_rows(values_only=True)
    header = [str(h).strip() for h in next(rows)]
    for row in rows:
        rec = dict(zip(header, row, strict=True))
        if rec.get("item_code"):
            values[str(rec["item_code"]).strip().upper()] = (rec["value"], rec["flag"] or None)
    return str(about["participant_code"]), int(about["collection_year"]), values


def _read_csv(path: Path) -> tuple[str, int, dict[str, tuple[float | None, str | None]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    values = {
        r["item_code"].strip().upper(): (
            float(r["value"]) if r["value"].strip() else None,
            r["flag"] or None,
        )
        for r in rows
    }
    return rows[0]["participant_code"], int(rows[0]["collection_year"]), values


def _submitted_values(cycle) -> dict[tuple[str, int], dict]:
    """The returns the final release holds: the cycle approves every return without an error
    (`approve --all`), so both deliberately bad ones stay out (structural: rejected; content
    errors: not approved)."""
    rejected = {b.path.name for b in cycle.sample.bad}
    returns = {}
    for path in cycle.sample.files:
        if path.name in rejected:
            continue
        participant, year, values = (_read_xlsx if path.suffix == ".xlsx" else _read_csv)(path)
        returns[(participant, year)] = values
    return returns


def _blocked_items(cycle, release: str = "current") -> set[tuple[str, int, str]]:
    """Items kept out of the release by an error finding of content validation (of the final
    release, or of the `draft`, which holds the not-approved participant-years too)."""
    from publishing.store import list_releases
    from runtime.home import Home

    if release == "draft":
        db = list_releases(Home(cycle.home), drafts=True)[0].database
    else:
        db = cycle.home / "releases" / "current" / "mhbench.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select participant_code, collection_year, trim(t.item) "
            "from marts.mart_validation_findings, "
            "unnest(string_split(items_involved, ',')) as t(item) where severity = 'error'"
        ).fetchall()
    return {(p, int(y), i) for p, y, i in rows}


def _expected_indicators(cycle) -> pd.DataFrame:
    items = pd.read_csv(SEEDS / "data_items.csv").set_index("item_code")
    indicators = pd.read_csv(SEEDS / "indicators.csv")
    population = pd.read_csv(SEEDS / "population.csv").set_index(
        ["participant_code", "year", "age_band"]
    )
    ppp = pd.read_csv(SEEDS / "ppp.csv").set_index(["participant_code", "year"])["ppp_per_usd"]
    person = items["is_person_count"].astype(str).str.lower().eq("true")
    blocked = _blocked_items(cycle)

    def small(code, value):
        return bool(person.get(code, False)) and value is not None and 1 <= value <= SUPPRESS_MAX

    def published(code, value):
        """A count as published (rounded to 5, half away from zero); other values as they are.
        Indicators are computed from these (DESIGN.md, disclosure control)."""
        if value is None or not bool(person.get(code, False)):
            return value
        return math.floor(value / 5 + 0.5) * 5

    rows = []
    for (participant, year), values in _submitted_values(cycle).items():
        for ind in indicators.itertuples():
            num = values.get(ind.numerator_item, (None, None))[0]
            if isinstance(ind.denominator_item, str):
                den_code = ind.denominator_item
                den = values.get(den_code, (None, None))[0]
            else:
                den_code = None
                den = population.loc[
                    (participant, year, ind.denominator_population_band), "population"
                ]
            suppressed = (
                small(ind.numerator_item, num)
                or (den_code is not None and small(den_code, den))
                or (participant, year, ind.numerator_item) in blocked
                or (participant, year, den_code) in blocked
            )
            value = None
            num, den = published(ind.numerator_item, num), published(den_code, den)
            if num is not None and den not in (None, 0) and not suppressed:
                converted = (
                    num / ppp[(participant, year)] if str(ind.uses_ppp).lower() == "true" else num
                )
                value = converted * ind.multiplier / den
            rows.append((participant, year, ind.indicator_code, value, suppressed))
    return pd.DataFrame(
        rows,
        columns=["participant_code", "collection_year", "indicator_code", "value", "suppressed"],
    )


@pytest.fixture(scope="module")
def release_db(cycle):
    db = cycle.home / "releases" / "current" / "mhbench.duckdb"
    assert db.exists(), cycle.run_output
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_run_summary_reports_rejection_and_release(cycle):
    bad = [b for b in cycle.sample.bad if b.kind == "structural"]
    assert bad, "the sample must contain a structurally invalid return"
    out = cycle.run_output
    assert "rejected" in out and bad[0].path.name in out
    assert "Published" in out
    assert "mhbench query" in out


def test_every_file_is_registered_and_archived(cycle):
    with duckdb.connect(str(cycle.home / "warehouse" / "build.duckdb"), read_only=True) as con:
        subs = con.execute(
            "select original_filename, status, file_sha256, archive_path, report_path from raw.submissions"
        ).fetchall()
        rejected_values = con.execute(
            "select count(*) from raw.return_values v join raw.submissions s using (submission_id) "
            "where s.status = 'rejected'"
        ).fetchone()[0]
    assert len(subs) == len(cycle.sample.files)
    statuses = {name: status for name, status, *_ in subs}
    for bad in cycle.sample.bad:
        assert statuses[bad.path.name] == ("rejected" if bad.kind == "structural" else "accepted")
    assert sum(s == "rejected" for s in statuses.values()) == 1
    assert rejected_values == 0
    for _, _, sha, archive, report in subs:
        archived = cycle.home / archive
        assert archived.exists() and archived.name.startswith(sha)
        assert (cycle.home / report).exists()


def test_release_layout_and_manifest(cycle):
    current = cycle.home / "releases" / "current"
    assert current.is_symlink()
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["release_id"] == current.resolve().name
    marts = manifest["marts"]
    assert set(marts) == PUBLISHED_MARTS
    docs = (current / "docs" / "dbt" / "index.html").read_text()
    assert "fct_indicator_values" in docs and "mart_benchmark" in docs
    assert "docs/dbt/index.html" in manifest["files"]
    assert manifest["docs"] == {
        "dbt": "docs/dbt/index.html",
        "great_expectations": "docs/gx/index.html",
    }
    assert "<h" in (current / "report.html").read_text()
    for mart in marts:
        assert (current / "parquet" / f"{mart}.parquet").exists()
        assert (current / "csv" / f"{mart}.csv").exists()
    # the approved returns: every one but the two deliberately bad ones
    n_approved = len(cycle.sample.files) - len(cycle.sample.bad)
    assert len(manifest["submissions"]) == n_approved
    assert len(manifest["participant_years"]["included"]) == n_approved
    assert all(c["status"] == "SUCCEEDED" for c in manifest["checks"])
    parquet = current / "parquet" / "fct_indicator_values.parquet"
    with duckdb.connect() as con:
        pq = con.execute(f"select count(*) from '{parquet}'").fetchone()[0]
    assert pq == marts["fct_indicator_values"]


def test_indicator_values_match_independent_computation(release_db, cycle):
    expected = _expected_indicators(cycle)
    actual = release_db.execute(
        "select participant_code, collection_year, indicator_code, value, suppressed from marts.fct_indicator_values"
    ).df()
    merged = expected.merge(
        actual,
        on=["participant_code", "collection_year", "indicator_code"],
        how="outer",
        suffixes=("_expected", "_actual"),
        indicator=True,
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["suppressed_expected"] == merged["suppressed_actual"]).all()
    assert merged["suppressed_actual"].any(), "Jersey's small counts must trigger suppression"
    both_null = merged["value_expected"].isna() & merged["value_actual"].isna()
    close = np.isclose(merged["value_expected"], merged["value_actual"], rtol=1e-9, atol=0)
    bad = merged[~(both_null | close)]
    assert bad.empty, bad.head(10)
    assert merged["value_actual"].notna().mean() > 0.8


def test_benchmark_statistics_match_independent_computation(release_db, cycle):
    expected = _expected_indicators(cycle).dropna(subset=["value"])
    actual = (
        release_db.execute("select * from marts.mart_benchmark")
        .df()
        .set_index(["indicator_code", "collection_year"])
    )
    groups = expected.groupby(["indicator_code", "collection_year"])["value"]
    assert len(actual) == groups.ngroups
    for key, values in groups:
        row = actual.loc[key]
        v = values.to_numpy()
        assert row["n"] == len(v)
        for column, number in [
            ("min", v.min()),
            ("max", v.max()),
            ("mean", v.mean()),
            ("p25", np.percentile(v, 25)),
            ("median", np.percentile(v, 50)),
            ("p75", np.percentile(v, 75)),
        ]:
            assert math.isclose(row[column], number, rel_tol=1e-9, abs_tol=1e-12), (key, column)


def test_return_values_disclosure_and_provenance(release_db, cycle):
    items = pd.read_csv(SEEDS / "data_items.csv").set_index("item_code")
    person = items["is_person_count"].astype(str).str.lower().eq("true")
    published = (
        release_db.execute(
            "select participant_code, collection_year, item_code, value, suppressed, submission_id, file_sha256, source_place "
            "from marts.fct_return_values"
        )
        .df()
        .set_index(["participant_code", "collection_year", "item_code"])
    )
    assert (
        published["source_place"].notna().all() and published["file_sha256"].str.len().eq(64).all()
    )
    checked = 0
    blocked = _blocked_items(cycle)
    for (participant, year), values in _submitted_values(cycle).items():
        for code, (value, _flag) in values.items():
            row = published.loc[(participant, year, code)]
            if (participant, year, code) in blocked:
                assert row["suppressed"] and pd.isna(row["value"])
            elif value is None:
                assert pd.isna(row["value"])
            elif person[code] and 1 <= value <= SUPPRESS_MAX:
                assert row["suppressed"] and pd.isna(row["value"])
            elif person[code]:
                rounded = float(
                    (Decimal(str(value)) / ROUND_TO).quantize(Decimal(1), rounding=ROUND_HALF_UP)
                    * ROUND_TO
                )
                assert row["value"] == rounded, (participant, year, code, value)
            else:
                assert math.isclose(row["value"], value, rel_tol=1e-12)
            checked += 1
    assert checked > 1000


@pytest.fixture(scope="module")
def draft_db(cycle):
    """The draft the cycle published before approval: every accepted participant-year."""
    from publishing.store import list_releases
    from runtime.home import Home

    [draft] = list_releases(Home(cycle.home), drafts=True)
    con = duckdb.connect(str(draft.database), read_only=True)
    yield con
    con.close()


def test_content_error_keeps_only_the_values_involved_out(draft_db, release_db, cycle):
    """The swapped GB-WLS return: its errors are found, its other values are published in the
    draft; the final release leaves it out (not approved), findings included."""
    bad = cycle.sample.bad_of_kind("content")[0]
    blocked = _blocked_items(cycle, "draft")
    assert {(p, y) for p, y, _ in blocked} == {(bad.participant_code, bad.year)}
    assert {"AA_READMISSIONS_30D", "AA_DISCHARGES"} <= {i for *_, i in blocked}
    message = draft_db.execute(
        "select message from marts.mart_validation_findings "
        "where rule_id = 'AA_READMISSIONS_LE_DISCHARGES'"
    ).fetchone()[0]
    assert message.startswith("AA_READMISSIONS_30D (") and "must be <= AA_DISCHARGES" in message
    published = draft_db.execute(
        "select count(*) from marts.fct_return_values where participant_code = ? "
        "and collection_year = ? and value is not null",
        [bad.participant_code, bad.year],
    ).fetchone()[0]
    assert published > 40
    for mart in ("fct_return_values", "mart_validation_findings"):
        final = release_db.execute(
            f"select count(*) from marts.{mart} where participant_code = ? and collection_year = ?",
            [bad.participant_code, bad.year],
        ).fetchone()[0]
        assert final == 0, mart


def test_release_ships_the_gate_data_docs_of_its_run(cycle):
    """docs/gx/: GE's Data Docs of the cycle's gate validations, one page per check."""
    current = cycle.home / "releases" / "current"
    manifest = json.loads((current / "manifest.json").read_text())
    index = (current / "docs" / "gx" / "index.html").read_text()
    assert "<title>Data Docs created by Great Expectations</title>" in index
    assert "docs/gx/index.html" in manifest["files"]
    gate = {c["check"]: c for c in manifest["checks"] if c["blocking"]}
    assert {name.rsplit(":gx_", 1)[1] for name in gate} == PUBLISHED_MARTS
    run_names = set()
    for name, check in gate.items():
        mart = name.rsplit(":gx_", 1)[1]
        page = check["data_docs"]
        # docs/gx/validations/<suite>/<run name: the Dagster run>/<run time>/<mart>.html
        _, _, validations, suite, run_name, _, file_name = page.split("/")
        assert (validations, suite, file_name) == ("validations", mart, f"{mart}.html")
        run_names.add(run_name)
        assert page in manifest["files"] and (current / page).is_file()
        assert page.removeprefix("docs/gx/") in index  # GE's index lists it
        text = (current / page).read_text()
        assert "Expectation Suite:" in text and mart in text and "Succeeded" in text
        suite_page = current / "docs" / "gx" / "expectations" / f"{mart}.html"
        assert suite_page.is_file() and f"docs/gx/expectations/{mart}.html" in manifest["files"]
    # Every page comes from the one run that built and published this release.
    [run_id] = run_names
    assert all(p.split("/")[4] == run_id for p in manifest["files"] if "/validations/" in p)
    assert (cycle.home / "quality" / "gx-data-docs" / run_id / "site" / "index.html").is_file()
    quality = (current / "quality.html").read_text()
    assert '<a href="docs/gx/index.html">' in quality
    assert all(f'<a href="{c["data_docs"]}">' in quality for c in gate.values())
    # The static assets GE's pages do not use are left out of the release.
    assert not [f for f in manifest["files"] if f.startswith("docs/gx/static/fonts")]
    # Shipped pages open offline and fetch nothing (GE's templates use CDNs and an S3 logo).
    external = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']https?://""")
    for shipped in (current / "docs" / "gx").rglob("*.html"):
        html = shipped.read_text()
        assert "<script" not in html and not external.search(html), shipped
        assert not re.search(r"url\(\s*['\"]?https?://", html), shipped


def test_the_dbt_docs_page_is_made_once_from_the_first_full_build(cycle):
    """The draft run's dbt step made the page from its build's manifest; both releases ship
    that page, and no other step or run generated it again."""
    import dagster as dg

    from orchestration.dbt_manifest import docs_page_path
    from runtime.home import Home

    page = docs_page_path(Home(cycle.home).dbt_docs_cache)
    assert list(page.parent.glob("*.html")) == [page]
    shipped = [
        p
        for p in (cycle.home / "releases").rglob("index.html")
        if p.parts[-3:] == ("docs", "dbt", "index.html")
    ]
    assert len(shipped) >= 2, "the draft and the final release"
    for release in shipped:
        assert release.read_bytes() == page.read_bytes(), release
    instance = dg.DagsterInstance.from_config(str(cycle.home / "dagster"))
    try:
        made = [
            record.step_key
            for run in instance.get_runs()
            for record in instance.all_logs(run.run_id)
            if "dbt docs page of this version" in (record.user_message or "")
        ]
    finally:
        instance.dispose()
    assert made == ["mhbench_dbt_assets"]


def test_each_kinds_dbt_ran_in_the_worker_the_cli_started_ahead(cycle):
    """The cycle's draft and final runs are a new home's first builds of their kinds: their
    dbt ran in the worker `mhbench run` started before loading the definitions, which parsed
    the whole project meanwhile and kept it for the home (orchestration/dbt_worker.py)."""
    import dagster as dg

    from orchestration.dbt_worker import WORKER_PREFIX

    instance = dg.DagsterInstance.from_config(str(cycle.home / "dagster"))
    try:
        builds = {}
        for run in instance.get_runs():
            messages = [
                record.user_message or ""
                for record in instance.all_logs(run.run_id)
                if record.step_key == "mhbench_dbt_assets"
            ]
            if any(m.startswith("Running dbt command") for m in messages):
                builds[run.run_id] = (run.tags.get("mhbench/release_kind", "final"), messages)
    finally:
        instance.dispose()
    assert sorted(kind for kind, _ in builds.values()) == ["draft", "final"]
    for kind, messages in builds.values():
        ran = [m for m in messages if m.startswith("dbt ran in the worker `mhbench run` started")]
        assert len(ran) == 1, (kind, [m for m in messages if "dbt" in m][:5])
        assert "parsed the whole project (the home kept no parse of this kind)" in ran[0]
    parse_folder = cycle.home / "warehouse" / "dbt-parse"
    assert sorted(p.name for p in parse_folder.iterdir()) == [
        "draft.partial_parse.msgpack",
        "final.partial_parse.msgpack",
    ]
    assert not list(parse_folder.glob(f"{WORKER_PREFIX}*"))


def test_the_parse_kept_for_each_kind_fits_the_next_build_of_the_home(cycle, tmp_path):
    """The next build of a kind starts from the parse its worker kept (dbt parses only what
    changed). `make setup` leaves a parse in dbt_project/target (no vars, its own home), which
    dagster-dbt copies into a build's target folder while the home has none: that one must not
    be what the home keeps, or every later build parses the whole project."""
    from orchestration.dbt_manifest import (
        DBT_PROJECT_DIR,
        PARSE_REUSED,
        PARTIAL_PARSE_FILE,
        parse_report,
        parse_state,
        reuse_parse_state,
    )
    from runtime.home import Home
    from tests.conftest import dbt_parse

    assert (DBT_PROJECT_DIR / "target" / PARTIAL_PARSE_FILE).is_file(), "as make setup leaves"
    for kind in ("draft", "final"):
        target = tmp_path / kind
        reuse_parse_state(parse_state(Home(cycle.home).dbt_parse_state, kind), target)
        dbt_parse(cycle.home, target, kind)
        assert parse_report(target) == PARSE_REUSED, kind


def test_gx_data_docs_asset_and_check_metadata_link_the_pages(cycle):
    import dagster as dg

    from orchestration.defs.publish import GATE_CHECK_KEYS, RELEASE
    from orchestration.defs.quality import GX_DATA_DOCS

    instance = dg.DagsterInstance.from_config(str(cycle.home / "dagster"))
    try:
        docs = instance.get_latest_materialization_event(GX_DATA_DOCS).asset_materialization
        release = instance.get_latest_materialization_event(RELEASE).asset_materialization
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(GATE_CHECK_KEYS)
    finally:
        instance.dispose()
    index = Path(docs.metadata["index"].value)
    assert index.is_file() and docs.metadata["validations"].value >= len(GATE_CHECK_KEYS)
    for key in GATE_CHECK_KEYS:
        metadata = latest[key].evaluation.metadata
        page = Path(metadata["data_docs"].value)
        assert page.is_file() and page.is_relative_to(index.parent)
        assert Path(metadata["data_docs_index"].value) == index
        assert page.relative_to(index.parent).as_posix() in docs.metadata["pages"].value
    shipped = Path(release.metadata["gx_data_docs"].value)
    assert shipped.is_file() and shipped.parts[-3:] == ("docs", "gx", "index.html")


def test_dbt_step_materializes_every_model_and_reports_every_test(cycle):
    """The dbt step of the run, as Dagster recorded it: dbt runs in a process of its own (the
    CLI's dbt worker) streaming its events, with dbt-core kept out of the Dagster process
    (orchestration/dagster_dbt_light.py).

    The final run follows the draft with the same code and seeds, and only workflow events
    new: dbt builds what the raw tables feed, and the seeds and the models they alone feed
    (their tests ran in the draft's build) and the views (same SQL) are reported as kept."""
    import dagster as dg

    from orchestration.dbt_manifest import returns_only_build
    from orchestration.defs.dbt import mhbench_dbt_assets

    instance = dg.DagsterInstance.from_config(str(cycle.home / "dagster"))
    try:
        [run] = instance.get_runs(limit=1)
        records = [r for r in instance.all_logs(run.run_id) if r.step_key == "mhbench_dbt_assets"]
    finally:
        instance.dispose()
    events = [r.dagster_event for r in records if r.dagster_event]
    materialized = {e.asset_key for e in events if e.is_step_materialization}
    checked = {
        e.event_specific_data.asset_check_key: e.event_specific_data
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    left = returns_only_build()
    kept = set(left.unfed)
    assert {"participants", "dim_indicator"} <= kept
    assert {"stg_raw__submissions", "mart_collection_status"} <= set(left.views)
    assert materialized == set(mhbench_dbt_assets.keys)
    not_rebuilt = {
        e.asset_key
        for e in events
        if e.is_step_materialization
        and "mhbench/rebuilt" in e.step_materialization_data.materialization.metadata
    }
    # the views too (dbt did not create them again), each after the tables under it
    assert {key.path[-1] for key in not_rebuilt} == kept | set(left.views)
    order = [e.asset_key.path[-1] for e in events if e.is_step_materialization]
    for view, parents in left.views.items():
        assert all(order.index(parent) < order.index(view) for parent in parents), view
    # the tests of the views ran (their data changed), not those of what no raw table feeds
    kept_checks = {k for k in mhbench_dbt_assets.check_keys if k.asset_key.path[-1] in kept}
    assert kept_checks, "the seeds and dimensions have tests"
    assert set(checked) == set(mhbench_dbt_assets.check_keys) - kept_checks
    assert all(evaluation.passed for evaluation in checked.values())
    messages = [r.user_message for r in records]
    [command] = [m for m in messages if m.startswith("Running dbt command")]
    # the final run's build: the release kind goes to dbt as a var (int_release_scope)
    assert '--vars {"release_kind": "final"}' in command
    assert "--exclude " + " ".join(["test_type:unit", *left.exclude()]) in command
    assert "--indirect-selection empty" in command
    assert not [m for m in messages if "dbt adapter" in m]
