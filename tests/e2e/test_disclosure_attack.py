"""Disclosure control that cannot be undone: the attack of tests/disclosure_attack.py on the
sample's release and on a generated warehouse full of small counts.

The attack recovers counts from every published indicator with a public (population) or
published denominator, from the trends and benchmarks, and from every finding message; it
passes only when everything recovered is the published count (rounded to 5, or 1-7).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.disclosure_attack import attack, leaking_rows
from workflow.events import ensure_workflow_schema

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# Counts a small service reports, the edges of disclosure control among them: 0 stays 0, 1-7
# are suppressed, 8 and 12 are published as 10, 13 as 15; 10 and 15 are true multiples of 5.
SMALL_COUNTS = (0, 1, 7, 8, 12, 13, 3, 10, 15, 22, 37, 64)


def release(home: Path) -> Path:
    return home / "releases" / "current" / "mhbench.duckdb"


@pytest.mark.xdist_group("cycle")
def test_the_sample_release_gives_no_count_away(cycle):
    with duckdb.connect(str(release(cycle.home)), read_only=True) as con:
        leaks = attack(con)
        checked = con.execute(
            "select count(*) from marts.fct_indicator_values where value is not null"
        ).fetchone()[0]
        masked = con.execute(
            "select count(*) from marts.mart_validation_findings where values_involved like '%1-7%'"
        ).fetchone()[0]
    assert checked > 1000 and masked > 0, "the sample exercises rounded and suppressed counts"
    assert leaks == [], leaking_rows(leaks)


@pytest.mark.xdist_group("cycle")
def test_the_attack_finds_a_rate_of_an_exact_count_and_a_narrowed_suppressed_one(cycle, tmp_path):
    """The attack can fail: a rate computed from the count next to the published one, a
    finding quoting an unrounded count, one quoting a change to a suppressed count."""
    copy = tmp_path / "mhbench.duckdb"
    shutil.copy(release(cycle.home), copy)
    with duckdb.connect(str(copy)) as con:
        (participant, year, indicator) = con.execute(
            """
            select v.participant_code, v.collection_year, v.indicator_code
            from marts.fct_indicator_values v
            join marts.dim_indicator i using (indicator_code)
            join marts.dim_data_item n on n.item_code = i.numerator_item and n.is_person_count
            where v.value is not null and i.denominator_item is null and v.numerator > 100
            order by all limit 1
            """
        ).fetchone()
        con.execute(
            "update marts.fct_indicator_values v set value = (v.numerator + 1) * i.multiplier "
            "/ v.denominator from marts.dim_indicator i where i.indicator_code = v.indicator_code"
            " and v.participant_code = ? and v.collection_year = ? and v.indicator_code = ?",
            [participant, year, indicator],
        )
        (first, second) = con.execute(
            "select finding_id from marts.mart_validation_findings order by finding_id limit 2"
        ).fetchall()
        con.execute(
            "update marts.mart_validation_findings set message = 'MHA_S136 (9799) must be <= "
            "MHA_DETENTIONS (9800)', items_involved = 'MHA_S136, MHA_DETENTIONS', "
            "values_involved = '9799, 9800' where finding_id = ?",
            [first[0]],
        )
        con.execute(
            "update marts.mart_validation_findings set message = 'MHA_DETENTIONS changed by "
            "-99.9% from 7990 (2023) to 1-7 (2024): more than 25% needs a comment', "
            "items_involved = 'MHA_DETENTIONS', values_involved = '1-7' where finding_id = ?",
            [second[0]],
        )
        leaks = attack(con)
    # The tampered value also shows in its benchmark and in the next year's trend.
    assert {(leak.table, leak.key) for leak in leaks} <= {
        ("fct_indicator_values", f"{participant} {year} {indicator}"),
        ("mart_trends", f"{participant} {year + 1} {indicator}"),
        ("mart_benchmark", f"{indicator} {year}"),
        ("mart_validation_findings", first[0]),
        ("mart_validation_findings", second[0]),
    }, leaks
    assert {
        ("fct_indicator_values", f"{participant} {year} {indicator}"),
        ("mart_benchmark", f"{indicator} {year}"),
        ("mart_validation_findings", first[0]),
        ("mart_validation_findings", second[0]),
    } <= {(leak.table, leak.key) for leak in leaks}, leaks
    whats = {leak.what for leak in leaks}
    assert "MHA_S136 9799 is not a published count" in whats
    assert "change -99.9% quoted from or to a suppressed value" in whats


def _small_count_warehouse(root: Path) -> Path:
    """scripts/synthetic_scale.py's participants x years, every person count replaced by one
    of SMALL_COUNTS, then the dbt project built on it (seeds and models)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from synthetic_scale import prepare

    scale = prepare(root, participants=12, years=3, perturb=0.0, seed=14)
    with duckdb.connect(str(scale.warehouse)) as con:
        counts = [
            r[0]
            for r in con.execute(
                "select item_code from read_csv_auto(?) where is_person_count",
                [str(scale.project / "seeds" / "data_items.csv")],
            ).fetchall()
        ]
        con.execute(
            f"update raw.return_values set value = {list(SMALL_COUNTS)}"
            f"[1 + (hash(submission_id || item_code) % {len(SMALL_COUNTS)})::bigint] "
            "where value is not null and list_contains(?, item_code)",
            [counts],
        )
        ensure_workflow_schema(con)  # dbt reads the workflow's event log
    env = dict(os.environ)
    env.update(
        MHBENCH_HOME=str(scale.home),
        DBT_PROFILES_DIR=str(scale.project),
        DBT_TARGET_PATH=str(root / "target"),
        DBT_LOG_PATH=str(root / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    dbt = str(Path(sys.executable).with_name("dbt"))
    # a draft's scope: every accepted participant-year (nothing is approved here)
    for args in (["seed"], ["run", "--vars", '{"release_kind": "draft"}']):
        done = subprocess.run(
            [dbt, *args],
            cwd=scale.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-6000:]
    return scale.warehouse


def test_a_dataset_of_small_counts_gives_no_count_away(tmp_path):
    warehouse = _small_count_warehouse(tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        leaks = attack(con)
        shown = dict(
            con.execute(
                "select coalesce(suppression_reason, 'published'), count(*) "
                "from marts.fct_return_values r join marts.dim_data_item d using (item_code) "
                "where d.is_person_count group by all"
            ).fetchall()
        )
        findings = con.execute("select count(*) from marts.mart_validation_findings").fetchone()
    # Edge counts reach every published figure: many suppressed, many rounded, findings too.
    assert shown.get("small_count", 0) > 100 and shown.get("published", 0) > 100, shown
    assert findings[0] > 20
    assert leaks == [], leaking_rows(leaks)


@pytest.mark.xdist_group("cycle")
def test_the_submitters_report_quotes_their_exact_values_the_release_the_published_ones(cycle):
    """One finding, two texts: the release's mart rounds the counts it quotes, the submitter's
    own report (reports/<submission>.json, not published) quotes them as submitted."""
    import json

    with duckdb.connect(str(release(cycle.home)), read_only=True) as con:
        published = {
            (s, r, subject): m
            for s, r, subject, m in con.execute(
                "select submission_id, rule_id, subject_code, message "
                "from marts.mart_validation_findings"
            ).fetchall()
        }
    with duckdb.connect(str(cycle.home / "warehouse" / "build.duckdb"), read_only=True) as con:
        exact = {
            (s, r, subject): m
            for s, r, subject, m in con.execute(
                "select submission_id, rule_id, subject_code, message_exact "
                "from intermediate.int_validation_findings"
            ).fetchall()
        }
    # the release holds the findings of its (approved) participant-years; the warehouse all
    assert published.keys() and published.keys() <= exact.keys()
    exact = {key: exact[key] for key in published}
    differ = [key for key in exact if exact[key] != published[key]]
    assert differ, "the sample has findings quoting counts that are not multiples of 5"
    for submission in {key[0] for key in differ}:
        report = json.loads((cycle.home / "reports" / f"{submission}.json").read_text())
        shown = {f["message"] for f in report["content_findings"]["findings"]}
        for key in (k for k in differ if k[0] == submission):
            assert exact[key] in shown and published[key] not in shown
