"""The collection workflow end to end, on a copy of the session's cycle: what the final and
draft releases hold, and one participant-year's whole story: a file that arrives while it is
approved is held (through the job the inbox sensor starts, and through the annual cycle),
reopened, left out of the next final release, signed off and approved again, published, and
the diff between the releases shows exactly its change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from publishing.diff import diff_releases
from publishing.store import current_release, list_releases
from runtime.home import Home
from tests.conftest import mhbench_env, run_mhbench

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("collection_workflow")]

DRAFT_MARK = "DRAFT — not for circulation"


def test_the_final_release_holds_only_approved_participant_years(cycle):
    home = Home(cycle.home)
    release = current_release(home)
    manifest = release.manifest
    assert manifest["kind"] == "final"
    scope = manifest["participant_years"]
    included = {(e["participant_code"], e["collection_year"]) for e in scope["included"]}
    left_out = {(e["participant_code"], e["collection_year"]): e for e in scope["left_out"]}
    assert len(included) == 70
    assert left_out[("GB-WLS", 2022)]["state"] == "signed_off"  # open errors: not approved
    assert left_out[("NL", 2023)]["state"] == "rejected"
    assert {e["state"] for e in scope["included"]} == {"approved"}
    with duckdb.connect(str(release.database), read_only=True) as con:
        in_values = set(
            con.execute(
                "select distinct participant_code, collection_year from marts.fct_indicator_values"
            ).fetchall()
        )
        # benchmark n counts approved participant-years only
        n_by_year = dict(
            con.execute(
                "select collection_year, max(n) from marts.mart_benchmark group by 1"
            ).fetchall()
        )
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
    assert in_values == included
    assert n_by_year[2022] == 11 and n_by_year[2024] == 12
    # the team's working data never leaves the warehouse
    assert "mart_collection_status" not in tables and "mart_queries" not in tables


def test_the_draft_is_watermarked_never_current_and_has_a_pack_per_participant(cycle):
    home = Home(cycle.home)
    [draft] = list_releases(home, drafts=True)
    assert draft.manifest["kind"] == "draft"
    assert draft.path.parent == home.drafts
    assert current_release(home).release_id != draft.release_id
    assert draft.release_id not in [r.release_id for r in list_releases(home)]
    included = {
        (e["participant_code"], e["collection_year"])
        for e in draft.manifest["participant_years"]["included"]
    }
    assert ("GB-WLS", 2022) in included and len(included) == 71  # every accepted one
    for page in ("report.html", "quality.html"):
        assert DRAFT_MARK in (draft.path / page).read_text()
        assert DRAFT_MARK not in (current_release(home).path / page).read_text()
    # no SDMX and no workbook: those are for partner agencies and members, from a final
    # release (which has both, tests/e2e/test_release_exports.py); the flags and thresholds
    # are still recorded
    assert draft.manifest["exports"] == {}
    assert not (draft.path / "sdmx").exists() and not list(draft.path.glob("*.xlsx"))
    assert not [f for f in draft.manifest["files"] if f.startswith("sdmx/") or ".xlsx" in f]
    assert draft.manifest["disclosure"] == current_release(home).manifest["disclosure"]
    assert {f["flag"] for f in draft.manifest["flags"]} >= {"E", "NA", "NK"}
    assert (draft.path / "mhbench.duckdb").is_file() and (draft.path / "csv").is_dir()
    packs = sorted(home.draft_packs(2024).glob(f"*_2024_draft_{draft.release_id}.html"))
    assert len(packs) == 12
    se = next(p for p in packs if p.name.startswith("SE_"))
    text = se.read_text()
    assert DRAFT_MARK in text and "Sweden" in text
    # drawn while the release was being published (from its manifest, not yet written), then
    # moved out of the drafts' `.incoming-` folder into the outbox
    assert draft.release_id in text
    assert not list(home.drafts.glob(".incoming-*"))
    assert "Published a draft" in cycle.draft_output


def _changed_return(home: Home, tmp_path: Path, participant: str, year: int) -> Path:
    from demo.sample_returns import generate_sample

    scratch = Home(tmp_path / "scratch").ensure()
    [source] = generate_sample(
        scratch, seed=99, years=range(year, year + 1), participants=[participant], include_bad=False
    ).files
    target = home.inbox_year(year) / f"{participant}_{year}_v2{source.suffix}"
    shutil.copyfile(source, target)
    return target


def _state(home: Home, participant: str, year: int) -> dict:
    status = run_mhbench(home.root, "status", "--year", str(year), "--format", "json")
    return next(r for r in json.loads(status.stdout) if r["participant_code"] == participant)


def test_held_reopened_resubmitted_approved_published_and_diffed(cycle_home_copy, tmp_path):
    import dagster as dg

    home = Home(cycle_home_copy)
    first = current_release(home).release_id
    _changed_return(home, tmp_path, "SE", 2024)

    # 1. The job the inbox sensor starts, for the file's partition: the file is held.
    env = mhbench_env(home.root)
    with pytest.MonkeyPatch.context() as patch:
        for key in ("MHBENCH_HOME", "DAGSTER_HOME"):
            patch.setenv(key, env[key])
        from orchestration.definitions import defs
        from orchestration.run_cycle import QUIET_RUN_CONFIG

        with dg.DagsterInstance.get() as instance:
            result = defs.resolve_job_def("refresh_returns").execute_in_process(
                run_config=QUIET_RUN_CONFIG,
                instance=instance,
                partition_key="2024|SE",
                raise_on_error=False,
            )
    assert result.success
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        held = con.execute(
            "select submission_id, status, report_path from raw.submissions "
            "where original_filename = 'SE_2024_v2.xlsx'"
        ).fetchone()
    assert held[1] == "held"
    assert "already approved" in (home.root / held[2]).read_text()
    state = _state(home, "SE", 2024)
    assert state["state"] == "published" and state["held_files"] == 1
    assert state["latest_submission_id"] != held[0]

    # 2. The annual cycle keeps it held: the release does not change for SE 2024.
    run_mhbench(home.root, "run")
    second = current_release(home).release_id
    assert second != first
    assert [c for c in diff_releases(home, first, second) if c.participant_code == "SE"] == []

    # 3. Reopen: the held file counts now; a final release leaves SE 2024 out until approved.
    run_mhbench(
        home.root, "reopen", "SE", "2024", "--by", "team", "--reason", "corrections from SE"
    )
    state = _state(home, "SE", 2024)
    assert state["latest_submission_id"] == held[0] and state["held_files"] == 0
    refused = run_mhbench(home.root, "approve", "SE", "2024", "--by", "team", check=False)
    assert refused.returncode == 2  # not signed off (and not checked yet)
    run_mhbench(home.root, "run")
    third = current_release(home)
    left_out = {
        (e["participant_code"], e["collection_year"]): e["state"]
        for e in third.manifest["participant_years"]["left_out"]
    }
    assert left_out[("SE", 2024)] == "accepted"
    removed = {
        (c.participant_code, c.collection_year, c.change)
        for c in diff_releases(home, second, third.release_id)
    }
    assert removed == {("SE", 2024, "removed")}

    # 4. Sign-off, approval, publish: the diff shows SE 2024's new values, and nothing else.
    run_mhbench(home.root, "signoff", "SE", "2024", "--by", "Lead SE")
    run_mhbench(home.root, "approve", "SE", "2024", "--by", "team")
    run_mhbench(home.root, "run")
    fourth = current_release(home).release_id
    changes = diff_releases(home, second, fourth)
    assert changes, "the resubmission changed SE 2024's values"
    assert {(c.participant_code, c.collection_year) for c in changes} == {("SE", 2024)}
    assert _state(home, "SE", 2024)["state"] == "published"


def test_a_final_release_with_nothing_approved_is_refused_and_says_why(tmp_path):
    from demo.sample_returns import generate_sample

    home = Home(tmp_path / "home").ensure()
    generate_sample(home, years=range(2024, 2025), participants=["SE", "NO"], include_bad=False)
    completed = run_mhbench(home.root, "run", check=False)
    assert completed.returncode == 1
    text = " ".join(completed.stdout.split())
    assert "not publishing a final release: no participant-year is approved yet (2 accepted)" in (
        text
    )
    assert "mhbench run --draft" in text
    assert current_release(home) is None and not home.current_release.exists()
