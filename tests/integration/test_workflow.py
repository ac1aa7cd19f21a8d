"""The collection workflow on the real warehouse of the session's cycle: every transition
allowed and refused (with its message), locks, voided sign-offs, the migration of a home made
before the workflow, and the Dagster job path.

Each test works on a private copy of the cycle's home (`cycle_home_copy`). The state views
(mart_collection_status, mart_queries) are derived by dbt from the events at read time, so a
transition shows at once, without a rebuild.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.registry import ingest_inbox
from runtime.home import Home
from tests.conftest import run_mhbench
from workflow import actions
from workflow.actions import WorkflowRefused
from workflow.events import MIGRATION_BY, ensure_workflow_schema

pytestmark = pytest.mark.xdist_group("workflow")


@pytest.fixture
def home(cycle_home_copy) -> Home:
    return Home(cycle_home_copy)


@pytest.fixture
def con(home):
    connection = actions.connect(home.warehouse)
    yield connection
    connection.close()


def _events(con) -> int:
    return con.execute("select count(*) from raw.workflow_events").fetchone()[0]


def _state(con, participant: str, year: int) -> actions.PartitionState:
    return actions.state_of(con, participant, year)


def test_the_cycle_approved_every_clean_participant_year_and_left_the_bad_ones(con):
    rows = actions.statuses(con)
    states = {(r["participant_code"], r["collection_year"]): r for r in rows}
    # the sample's deliberately bad returns: content errors (GB-WLS 2022), rejected (NL 2023)
    assert states[("GB-WLS", 2022)]["state"] == "signed_off"
    assert states[("GB-WLS", 2022)]["open_errors"] == 2
    assert states[("NL", 2023)]["state"] == "rejected"
    published = [r for r in rows if r["state"] == "published"]
    assert len(published) == 70
    assert {r["approved_by"] for r in published} == {"demo"}
    assert all(r["published_release_id"] for r in published)


def test_reopen_signoff_approve_round_trip(con):
    before = _events(con)
    assert "reopened by alice" in actions.reopen(con, "se", 2024, "alice", "figures revised")
    state = _state(con, "SE", 2024)
    assert state.state == "accepted"
    assert "reopened by alice: figures revised" in state.state_note
    actions.signoff(con, "SE", 2024, "Lead SE", "by e-mail")
    assert _state(con, "SE", 2024).state == "signed_off"
    actions.approve(con, "SE", 2024, "alice")
    state = _state(con, "SE", 2024)
    # approved again, not published: the publication was before the reopen
    assert state.state == "approved"
    assert _events(con) == before + 3
    row = con.execute(
        "select by_name, text, os_user, host, recorded_at from raw.workflow_events "
        "where action = 'signoff' and by_name = 'Lead SE'"
    ).fetchone()
    assert row[0] == "Lead SE" and row[1] == "by e-mail"
    assert row[2] and row[3] and row[4] is not None


REFUSALS = [
    (
        lambda c: actions.approve(c, "GB-WLS", 2022, "alice"),
        "GB-WLS 2022 cannot be approved: 2 open errors (AA_FOLLOWUP_LE_DISCHARGES, "
        "AA_READMISSIONS_LE_DISCHARGES); use --override REASON to approve anyway",
    ),
    (
        lambda c: actions.approve(c, "NL", 2023, "alice"),
        "NL 2023 cannot be approved: no accepted submission (1 rejected file(s) only)",
    ),
    (
        lambda c: actions.signoff(c, "NL", 2023, "alice"),
        "NL 2023 cannot be signed off: no accepted submission (1 rejected file(s) only)",
    ),
    (lambda c: actions.signoff(c, "SE", 2024, "alice"), "it is already published"),
    (lambda c: actions.approve(c, "SE", 2024, "alice"), "SE 2024 is already published"),
    (
        lambda c: actions.reopen(c, "GB-WLS", 2022, "alice", "why"),
        "GB-WLS 2022 cannot be reopened: it is signed off, not approved or published",
    ),
    (lambda c: actions.signoff(c, "XX", 2024, "alice"), "unknown participant 'XX'"),
    (lambda c: actions.signoff(c, "SE", 1999, "alice"), "unknown collection year 1999"),
    (lambda c: actions.signoff(c, "SE", 2024, "  "), "--by must not be empty"),
    (lambda c: actions.reopen(c, "SE", 2024, "alice", ""), "--reason must not be empty"),
    (lambda c: actions.approve(c, "GB-WLS", 2022, "a", override=" "), "--override must not"),
    (lambda c: actions.answer(c, "q-404", "a", "text"), "unknown query 'q-404'"),
    (lambda c: actions.close(c, "17", "a"), "'17' is not a query id"),
    (lambda c: actions.ask(c, "SE", 2024, "a", "text", item="NOPE"), "unknown data item"),
    (lambda c: actions.ask(c, "SE", 2024, "a", ""), "--text must not be empty"),
]


@pytest.mark.parametrize(("act", "message"), REFUSALS, ids=[m[:40] for _, m in REFUSALS])
def test_a_refused_transition_says_what_is_missing_and_writes_nothing(con, act, message):
    before = _events(con)
    with pytest.raises(WorkflowRefused) as refused:
        act(con)
    assert message in str(refused.value)
    assert _events(con) == before


def test_queries_block_approval_until_closed_and_an_override_needs_a_reason(con):
    actions.reopen(con, "NO", 2024, "alice", "query on beds")
    actions.signoff(con, "NO", 2024, "Lead NO")
    query = actions.ask(con, "NO", 2024, "alice", "Beds fell by a third: closure?", item="aa_beds")
    assert query.startswith("q-")
    assert _state(con, "NO", 2024).state == "signed_off"  # precedence over queried
    with pytest.raises(WorkflowRefused, match=rf"1 open query \({query}\)"):
        actions.approve(con, "NO", 2024, "alice")
    actions.answer(con, query, "Lead NO", "Yes: a ward closed in March")
    listed = actions.queries(con, open_only=True)
    assert [(q["query_id"], q["state"], q["item_code"]) for q in listed] == [
        (query, "answered", "AA_BEDS")
    ]
    assert listed[0]["answers"][0]["text"] == "Yes: a ward closed in March"
    with pytest.raises(WorkflowRefused, match="open query"):
        actions.approve(con, "NO", 2024, "alice")  # answered is not closed
    actions.close(con, query, "alice")
    with pytest.raises(WorkflowRefused, match="is closed"):
        actions.answer(con, query, "Lead NO", "more")
    actions.approve(con, "NO", 2024, "alice")
    assert _state(con, "NO", 2024).state == "approved"

    # GB-WLS 2022 has open errors: approved only with a written override
    done = actions.approve(con, "GB-WLS", 2022, "alice", override="checked with the lead")
    assert "override: 2 open errors" in done
    state = actions.statuses(con, 2022)
    wls = next(r for r in state if r["participant_code"] == "GB-WLS")
    assert wls["state"] == "approved" and wls["approval_override"] == "checked with the lead"


def _resubmit(home: Home, participant: str, year: int, tmp_path: Path) -> Path:
    """A changed copy of the participant's return, dropped in the inbox (new bytes)."""
    from demo.sample_returns import generate_sample

    scratch = Home(tmp_path / "scratch").ensure()
    summary = generate_sample(
        scratch, seed=7, years=range(year, year + 1), participants=[participant], include_bad=False
    )
    source = summary.files[0]
    target = home.inbox_year(year) / f"{participant}_{year}_resubmitted{source.suffix}"
    shutil.copyfile(source, target)
    return target


def test_a_file_for_an_approved_year_is_held_until_reopened(home, con, tmp_path):
    approved = _state(con, "SE", 2024)
    _resubmit(home, "SE", 2024, tmp_path)
    from reporting.submitter_report import write_html

    submissions = ingest_inbox(con, home, locked=actions.lock_check(con), render_report=write_html)
    held = [s for s in submissions if s.is_new]
    assert [s.status for s in held] == ["held"]
    report = Path(held[0].report_path).read_text()
    assert "Held: this participant-year is already approved" in report
    # locked: the approved submission still counts, the held file is listed
    state = _state(con, "SE", 2024)
    assert state.state == "published"
    assert state.latest_submission_id == approved.latest_submission_id
    assert state.held_files == 1

    done = actions.reopen(con, "SE", 2024, "alice", "the lead sent corrections")
    assert f"1 held file released ({held[0].submission_id})" in done
    state = _state(con, "SE", 2024)
    assert state.latest_submission_id == held[0].submission_id  # the latest received wins
    assert state.held_files == 0 and state.state in ("accepted", "queried")


def test_a_newer_submission_voids_the_signoff_and_says_so(home, con, tmp_path):
    actions.reopen(con, "IE", 2024, "alice", "reopened for a resubmission")
    actions.signoff(con, "IE", 2024, "Lead IE")
    signed = _state(con, "IE", 2024).latest_submission_id
    _resubmit(home, "IE", 2024, tmp_path)
    new = [s for s in ingest_inbox(con, home, locked=actions.lock_check(con)) if s.is_new]
    assert [s.status for s in new] == ["accepted"]  # not locked: it was only signed off
    state = _state(con, "IE", 2024)
    assert state.state in ("accepted", "queried")
    assert f"signed off submission {signed}; {new[0].submission_id} arrived since" in (
        state.state_note
    )
    with pytest.raises(WorkflowRefused, match=f"the sign-off was for submission {signed}"):
        actions.approve(con, "IE", 2024, "alice")


def test_a_home_from_before_the_workflow_keeps_what_it_published(home):
    """Migration: the participant-years published before the workflow existed are recorded
    as signed off and approved by `migration`, so the next final release keeps them."""
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("drop table raw.workflow_events")  # a home made by the previous version
        migrated = ensure_workflow_schema(con)
        assert migrated == 2 * 70
        assert ensure_workflow_schema(con) == 0  # once
        by = con.execute("select distinct by_name from raw.workflow_events").fetchall()
        assert by == [(MIGRATION_BY,)]
        states = dict(
            con.execute(
                "select state, count(*) from marts.mart_collection_status group by 1"
            ).fetchall()
        )
    assert states["published"] == 70


def test_the_cli_actions_answer_and_exit_2_on_a_refusal(home):
    done = run_mhbench(home.root, "signoff", "GB-WLS", "2022", "--by", "x", check=False)
    assert done.returncode == 2
    assert "GB-WLS 2022 is already signed off" in done.stdout + done.stderr
    refused = run_mhbench(home.root, "approve", "GB-WLS", "2022", "--by", "x", check=False)
    assert refused.returncode == 2
    text = " ".join((refused.stdout + refused.stderr).split())
    assert "2 open errors" in text and "Nothing was recorded" in text
    asked = run_mhbench(home.root, "ask", "SE", "2024", "--by", "team", "--text", "why?")
    query_id = asked.stdout.strip()
    assert query_id.startswith("q-")
    status = run_mhbench(home.root, "status", "--year", "2024", "--format", "json")
    import json

    rows = {r["participant_code"]: r for r in json.loads(status.stdout)}
    assert rows["SE"]["open_queries"] == 1 and rows["SE"]["state"] == "published"
    assert len(rows) == 12
    # --all YEAR: that year's participant-years only (GB-WLS 2022: open errors)
    every = run_mhbench(home.root, "approve", "--all", "2022", "--by", "x")
    assert "0 recorded, 12 skipped." in every.stdout
    assert "GB-WLS 2022 cannot be approved: 2 open errors" in " ".join(every.stdout.split())
    wrong = run_mhbench(home.root, "approve", "--all", "SE", "--by", "x", check=False)
    assert wrong.returncode == 2 and "give a year at most" in wrong.stdout + wrong.stderr


def test_two_actions_at_once_both_land_whole(home):
    """Two CLI processes on the same warehouse: one waits for the other's write lock; both
    queries are recorded, with distinct ids."""
    import subprocess
    import sys

    from tests.conftest import REPO, mhbench_env

    def ask(participant: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.app", "ask", participant, "2024", "--by", "team"]
            + ["--text", f"a question to {participant}"],
            cwd=REPO,
            env=mhbench_env(home.root),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first, second = ask("SE"), ask("NO")
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    ids = sorted(out.strip() for out, _ in outputs)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        rows = con.execute(
            "select query_id, participant_code from raw.workflow_events where action = 'ask' "
            "order by query_id"
        ).fetchall()
    assert len({q for q, _ in rows}) == 2 and sorted(q for q, _ in rows) == ids
    assert {p for _, p in rows} == {"SE", "NO"}


def test_the_dagster_job_records_the_action_from_its_config(home):
    import dagster as dg

    from orchestration.definitions import defs

    job = defs.resolve_job_def("reopen")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {
                    "record_reopen": {
                        "config": {
                            "participant": "JE",
                            "year": 2024,
                            "by": "ui user",
                            "text": "reopened from the launchpad",
                        }
                    }
                },
                "resources": {"home": {"config": {"root": str(home.root)}}},
            },
            instance=instance,
        )
        assert result.success
        materialized = [
            e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization
        ]
        assert materialized == ["raw/workflow_events"]
        refused = defs.resolve_job_def("reopen").execute_in_process(
            run_config={
                "ops": {
                    "record_reopen": {
                        "config": {"participant": "JE", "year": 2024, "by": "ui", "text": "x"}
                    }
                },
                "resources": {"home": {"config": {"root": str(home.root)}}},
            },
            instance=instance,
            raise_on_error=False,
        )
        assert not refused.success
        failure = next(e for e in refused.all_events if e.is_step_failure)
        assert "JE 2024 cannot be reopened: it is accepted" in str(failure.step_failure_data.error)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        rows = con.execute(
            "select action, by_name, text from raw.workflow_events where by_name like 'ui%'"
        ).fetchall()
    assert rows == [("reopen", "ui user", "reopened from the launchpad")]
