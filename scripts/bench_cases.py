"""The measured cases of issue #15 for `make bench`, each a function returning a JSON-able dict.

Every case runs the real commands as subprocesses, in throwaway homes under the system's
temp folder (deleted afterwards; kept, and named in the error, when a case fails), with
telemetry off and a timeout on everything (TIMEOUT_S a command, RUSH_TIMEOUT_S a drop of
the rush, SCALE_TIMEOUT_S the cycle at scale), and records the 1-minute load average it
started under (the machine is shared). Peak RSS is the summed RSS of the whole process
tree, sampled from /proc (scripts/bench_measure.py).

- `framework_floor`: what any cycle pays at least once: a Python process importing dagster
  and great_expectations, plus `dbt build` of a one-model dbt-duckdb project (written to a
  temp folder). The dbt project is built once untimed (its first parse, reported as
  `dbt_first_build_s`), then both parts are timed `runs` times; `floor_s` is the sum of
  their medians.
- `rush`: the deadline rush under `dagster dev` with the inbox sensor on. A fresh home gets
  the sample and a draft cycle, so the warehouse exists; then one changed resubmission is
  dropped into the inbox and timed until its submitter report is written and every run
  created since the drop has finished (`one_file_s`); then `files` resubmissions of other
  participants at once (`rush_s`). `ratio` is rush_s / one_file_s; `rush_runs` counts the
  `refresh_returns` runs the rush caused (`rush_runs_by_job` every run). Afterwards the
  warehouse is read (read-only, with no run holding it) to check every dropped file is in
  raw.submissions, with its status.
- `scale_cold_cycle`: `mhbench run --draft` on a fresh home at `participants` x `years`
  (synthetic participants XA-01 ..., scripts/synthetic_scale.py). The repository's tracked
  files are copied to a temp folder, the synthetic seeds written into the copy's
  dbt_project/seeds, one CSV return per participant-year into the home's inbox, and the
  copy's code is run (cwd and PYTHONPATH the copy) with this venv's Python. `uses_copy`
  checks it: the draft release holds every synthetic participant-year (the repository's
  seeds know none of them).
- `sample_cold_cycle`: the same measurement on the sample (`mhbench sample`), for the
  scale / sample ratio.

The cold cycles are primed as a deployment is (`make setup` parses the dbt project, and
scripts/bench.py primes dbt's partial parse for the bench home): that parse is untimed and
reported as `prime_s`.

Run one case on its own: `.venv/bin/python scripts/bench_cases.py floor|rush|scale|sample`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dagster import TERMINAL, dagster_dev  # noqa: E402
from bench_measure import (  # noqa: E402
    CaseFailed,
    TreeRss,
    largest_child_rss_mib,
    load_1min,
    quiet_env,
    run_measured,
)
from bench_returns import REPO, Resubmission, drop, write_resubmissions  # noqa: E402

TIMEOUT_S = 900  # any one command
# Until a drop is done: on a busy machine, 10 files queued as 10 full rebuilds took 20 min.
RUSH_TIMEOUT_S = 2400
SCALE_TIMEOUT_S = 3600  # 50 x 10 under load 10: the draft packs alone took ~28 s a participant
RUSH_YEAR = 2024
SENSOR = "inbox_sensor"
console = Console()


def _tool(name: str) -> str:
    """An executable of this venv (dbt, dagster, mhbench)."""
    return str(Path(sys.executable).with_name(name))


class _Workdir:
    """A temp folder for one case: removed when the case succeeds, kept when it fails."""

    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"mhbench-bench-{prefix}-"))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            shutil.rmtree(self.path, ignore_errors=True)
        elif isinstance(error, CaseFailed):
            error.add_note(f"(the case's files are kept in {self.path})")


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


# --------------------------------------------------------------------------- the floor

_FLOOR_PROJECT = """\
name: floor
version: "1.0"
config-version: 2
profile: floor
model-paths: ["models"]
"""
_FLOOR_PROFILES = """\
floor:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 1
"""


def framework_floor(env: dict[str, str], runs: int = 3, timeout: float = TIMEOUT_S) -> dict:
    """Import dagster + great_expectations, plus `dbt build` of one model (see module doc)."""
    with _Workdir("floor") as root:
        project = root / "project"
        (project / "models").mkdir(parents=True)
        (project / "dbt_project.yml").write_text(_FLOOR_PROJECT)
        (project / "profiles.yml").write_text(_FLOOR_PROFILES.format(path=root / "floor.duckdb"))
        (project / "models" / "one.sql").write_text("select 1 as x\n")
        env = quiet_env(env, DBT_VERSION_CHECK="false")
        imports = [sys.executable, "-c", "import dagster, great_expectations"]
        build = [_tool("dbt"), "build", "--project-dir", str(project)]
        build += ["--profiles-dir", str(project)]
        first = run_measured(build, env, project, timeout)
        if "Completed successfully" not in first.stdout:
            raise CaseFailed(f"the one-model dbt build did not succeed:\n{first.stdout[-2000:]}")
        import_s, dbt_s, loads = [], [], []
        for _ in range(runs):
            loads.append(load_1min())
            import_s.append(round(run_measured(imports, env, root, timeout).wall_s, 2))
            dbt_s.append(round(run_measured(build, env, project, timeout).wall_s, 2))
    return {
        "import_s": import_s,
        "dbt_build_s": dbt_s,
        "median_import_s": _median(import_s),
        "median_dbt_build_s": _median(dbt_s),
        "dbt_first_build_s": round(first.wall_s, 2),
        "floor_s": round(_median(import_s) + _median(dbt_s), 2),
        "load_1min": loads,
    }


# --------------------------------------------------------------------------- the rush


def _drop_and_wait(server, home: Path, files: list[Resubmission], timeout: float) -> dict:
    """Drop the files, then wait until each has its report and every new run has finished."""
    from ingestion.registry import submission_id_for
    from ingestion.report import report_json_path
    from runtime.home import Home

    reports = [report_json_path(Home(home), submission_id_for(f.sha256)) for f in files]
    load = load_1min()
    dropped_at = time.time()
    start = time.monotonic()
    drop(files)
    first_report: list[float] = []

    def finished():
        present = [p.exists() for p in reports]
        if any(present) and not first_report:
            first_report.append(time.monotonic() - start)
        if not all(present):
            return None
        runs = server.runs(created_after=dropped_at)
        if not runs or any(r["status"] not in TERMINAL for r in runs):
            return None
        return runs

    try:
        runs = server.wait_until(
            f"the reports of {len(files)} dropped file(s) and their finished runs",
            finished,
            start + timeout,
            interval=0.5,
        )
    except CaseFailed as failed:
        runs = Counter(r["status"] for r in server.runs(created_after=dropped_at))
        failed.add_note(
            f"after {time.monotonic() - start:.0f} s: {sum(p.exists() for p in reports)} of "
            f"{len(files)} reports written; runs since the drop: {dict(runs)}"
        )
        raise
    wall = time.monotonic() - start
    return {
        "wall_s": round(wall, 2),
        "first_report_s": round(first_report[0], 2),
        "load_1min": load,
        "runs_by_job": dict(Counter(r["jobName"] for r in runs)),
        "run_statuses": dict(Counter(r["status"] for r in runs)),
    }


def _registered(home: Path, files: list[Resubmission], env: dict[str, str]) -> dict[str, int]:
    """Statuses in raw.submissions of the dropped files (none: not registered), read from the
    warehouse the case ran on (`env`: the file, or the lake)."""
    from runtime.warehouse import connect_warehouse

    shas = {f.sha256 for f in files}
    warehouse = home / "warehouse" / "build.duckdb"
    with connect_warehouse(warehouse, read_only=True, environ=env) as con:
        rows = con.execute("select file_sha256, status from raw.submissions").fetchall()
    statuses = Counter(status for sha, status in rows if sha in shas)
    statuses["not registered"] = len(shas - {sha for sha, _ in rows})
    return {k: v for k, v in statuses.items() if v}


def rush(
    env: dict[str, str],
    files: int = 10,
    timeout: float = TIMEOUT_S,
    drop_timeout: float = RUSH_TIMEOUT_S,
) -> dict:
    """One resubmission, then `files` at once, under `dagster dev` (see module doc)."""
    with _Workdir("rush") as root:
        home = root / "home"
        env = quiet_env(env, MHBENCH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
        run_measured([_tool("mhbench"), "sample"], env, REPO, timeout)
        setup = run_measured([_tool("mhbench"), "run", "--draft"], env, REPO, timeout)
        scratch = root / "scratch"
        one = write_resubmissions(home, scratch, RUSH_YEAR, 1, first=0)
        many = write_resubmissions(home, scratch, RUSH_YEAR, files, first=1)
        log = root / "dagster-dev.log"
        with dagster_dev(REPO, env, log, timeout) as server, TreeRss(server.process.pid) as rss:
            on_at = time.time()
            server.start_sensor(SENSOR)

            def evaluated():  # the sensor has looked at the inbox once: a steady state
                ticks = [t for t in server.ticks(SENSOR, on_at) if t["status"] != "STARTED"]
                failed = [t for t in ticks if t["status"] == "FAILURE"]
                if failed:
                    raise CaseFailed(f"{SENSOR} failed: {failed[0]['error']}")
                return ticks

            server.wait_until(f"a first {SENSOR} tick", evaluated, time.monotonic() + timeout)
            one_file = _drop_and_wait(server, home, one, drop_timeout)
            rushed = _drop_and_wait(server, home, many, drop_timeout)
        registered = {
            "one_file": _registered(home, one, env),
            "rush": _registered(home, many, env),
        }
    for case, statuses in registered.items():
        if statuses.get("not registered"):
            raise CaseFailed(f"{case}: dropped files missing from raw.submissions: {statuses}")
    return {
        "files": files,
        "rush_s": rushed["wall_s"],
        "one_file_s": one_file["wall_s"],
        "ratio": round(rushed["wall_s"] / one_file["wall_s"], 2),
        "rush_runs": rushed["runs_by_job"].get("refresh_returns", 0),
        "one_file_runs": one_file["runs_by_job"].get("refresh_returns", 0),
        "rush_first_report_s": rushed["first_report_s"],
        "one_file_first_report_s": one_file["first_report_s"],
        "rush_runs_by_job": rushed["runs_by_job"],
        "rush_run_statuses": rushed["run_statuses"],
        "one_file_run_statuses": one_file["run_statuses"],
        "registered": registered,
        "peak_tree_rss_mib": rss.peak_mib,
        "dagster_dev_load_s": server.seconds_to_load,
        "setup_draft_cycle_s": round(setup.wall_s, 2),
        "load_1min": {"one_file": one_file["load_1min"], "rush": rushed["load_1min"]},
    }


# --------------------------------------------------------------------------- cold cycles


def _draft_summary(home: Path) -> dict:
    """What the one draft release of a home holds."""
    [manifest_path] = (home / "releases" / "drafts").glob("*/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    included = manifest.get("participant_years", {}).get("included", [])
    return {
        "release_id": manifest["release_id"],
        "participant_years": len(included),
        "participants": len({e["participant_code"] for e in included}),
        "submissions": len(manifest.get("submissions", [])),
        "codes": sorted({e["participant_code"] for e in included}),
    }


def _cold_cycle(code: Path, home: Path, env: dict[str, str], timeout: float, log: Path) -> dict:
    """Prime dbt for the home (untimed), then time `mhbench run --draft` of `code`'s copy."""
    prime = run_measured(
        [sys.executable, "-c", "from orchestration.dbt_manifest import ensure_manifest as e; e()"],
        env,
        code,
        timeout,
    )
    dbt_env = dict(env, DBT_PROFILES_DIR=str(code / "dbt_project"))
    parse = run_measured(
        [_tool("dbt"), "parse", "--quiet", "--project-dir", str(code / "dbt_project")],
        dbt_env,
        code,
        timeout,
    )
    before = largest_child_rss_mib()
    measured = run_measured(
        [sys.executable, "-m", "cli.app", "run", "--draft"], env, code, timeout, log=log
    )
    result = measured.as_dict()
    result["largest_process_rss_mib"] = max(before, largest_child_rss_mib())
    result["prime_s"] = round(prime.wall_s + parse.wall_s, 2)
    result.update(_draft_summary(home))
    return result


def _drafts(home: Path) -> int:
    """How many draft releases the home holds."""
    return len(list((home / "releases" / "drafts").glob("*/manifest.json")))


def _inbox_files(home: Path) -> int:
    return sum(1 for p in (home / "inbox").rglob("*") if p.is_file())


def sample_cold_cycle(env: dict[str, str], timeout: float = TIMEOUT_S) -> dict:
    """`mhbench run --draft` on a fresh home with the sample (the same shape as the scale)."""
    with _Workdir("sample") as root:
        home = root / "home"
        env = quiet_env(env, MHBENCH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
        run_measured([sys.executable, "-m", "cli.app", "sample"], env, REPO, timeout)
        result = _cold_cycle(REPO, home, env, timeout, root / "run.log")
        result["files"] = _inbox_files(home)
    result.pop("codes")
    return result


def sample_sequence(env: dict[str, str], timeout: float = TIMEOUT_S) -> dict:
    """On one home, as a collection lives it: the cold cycle (`mhbench sample`, then
    `mhbench run --draft`), the same run again with nothing new, then one changed
    resubmission and the run that follows it. Each checks what it must do: the second run
    publishes no release, the third publishes one."""
    with _Workdir("sequence") as root:
        home = root / "home"
        env = quiet_env(env, MHBENCH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
        run_measured([sys.executable, "-m", "cli.app", "sample"], env, REPO, timeout)
        cold = _cold_cycle(REPO, home, env, timeout, root / "cold.log")
        cold.pop("codes")
        run = [sys.executable, "-m", "cli.app", "run", "--draft"]
        before = _drafts(home)
        again = run_measured(run, env, REPO, timeout)
        if _drafts(home) != before or "Nothing changed since" not in again.stdout:
            raise CaseFailed(f"the run with nothing new published a release:\n{again.stdout}")
        [resubmission] = write_resubmissions(home, root / "scratch", RUSH_YEAR, 1)
        drop([resubmission])
        resubmitted = run_measured(run, env, REPO, timeout)
        if _drafts(home) != before + 1:
            raise CaseFailed(f"the resubmission published no release:\n{resubmitted.stdout}")
    return {
        "cold": cold,
        "nothing_new": again.as_dict(),
        "resubmission": {**resubmitted.as_dict(), "participant": resubmission.participant},
    }


def _copy_tracked(repo: Path, to: Path) -> int:
    """The repository's tracked files (as in the work tree) copied to `to`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.decode()
    copied = 0
    for name in filter(None, listed.split("\0")):
        source = repo / name
        if source.is_file():  # a tracked file deleted in the work tree is skipped
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
            copied += 1
    return copied


def scale_cold_cycle(
    env: dict[str, str], participants: int = 50, years: int = 10, timeout: float = SCALE_TIMEOUT_S
) -> dict:
    """The cold cycle at participants x years, on a copy of the repository (see module doc)."""
    from bench_returns import write_scale_inbox
    from synthetic_scale import write_seeds, years_ending

    with _Workdir("scale") as root:
        code = root / "repo"
        _copy_tracked(REPO, code)
        seeds = code / "dbt_project" / "seeds"
        year_list = years_ending(years)
        codes = write_seeds(seeds, participants, year_list, random.Random(7))
        home = root / "home"
        files = write_scale_inbox(home, seeds, codes, year_list)
        pythonpath = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        env = quiet_env(
            env,
            MHBENCH_HOME=str(home),
            DAGSTER_HOME=str(home / "dagster"),
            PYTHONPATH=pythonpath,
        )
        result = _cold_cycle(code, home, env, timeout, root / "run.log")
        if not (code / "dbt_project" / "target" / "manifest.json").exists():
            raise CaseFailed("the copy's dbt manifest was not written: the copy was not used")
        # one resubmission at this scale, as on the sample (sample_sequence)
        drafts = _drafts(home)
        [resubmission] = write_resubmissions(home, root / "scratch", year_list[-1], 1, seeds=seeds)
        drop([resubmission])
        resubmitted = run_measured(
            [sys.executable, "-m", "cli.app", "run", "--draft"], env, code, timeout
        )
        if _drafts(home) != drafts + 1:
            raise CaseFailed(f"the resubmission published no release:\n{resubmitted.stdout}")
        result["resubmission"] = {
            **resubmitted.as_dict(),
            "participant": resubmission.participant,
            "year": resubmission.year,
        }
    result["uses_copy"] = (
        result["participant_years"] == participants * years and result["codes"] == codes
    )
    if not result["uses_copy"]:
        raise CaseFailed(
            f"the draft holds {result['participant_years']} participant-years of "
            f"{result['participants']} participants, not the {participants} x {years} "
            "synthetic ones: the run did not use the copy's seeds"
        )
    result.pop("codes")
    result.update(files=files, participants_requested=participants, years_requested=years)
    return result


# --------------------------------------------------------------------------- CLI

app = typer.Typer(add_completion=False, help="Run one measured case of `make bench`.")


def _show(case, **options) -> None:
    """Run a case and print its dict as JSON; a failed case ends with its message, exit 1."""
    try:
        result = case(dict(os.environ), **options)
    except CaseFailed as failed:
        console.print("[red]the case failed:[/]")
        console.print(str(failed), *getattr(failed, "__notes__", []), sep="\n", markup=False)
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result))


@app.command()
def floor(runs: int = typer.Option(3, help="Timed repetitions (the median is reported).")):
    """The framework floor: imports plus a one-model dbt build."""
    _show(framework_floor, runs=runs)


@app.command("rush")
def rush_command(
    files: int = typer.Option(10, help="Resubmissions dropped at once."),
    timeout: float = typer.Option(TIMEOUT_S, help="Seconds any one command may take."),
    drop_timeout: float = typer.Option(RUSH_TIMEOUT_S, help="Seconds a drop may take to finish."),
):
    """The deadline rush under `dagster dev`, against one file."""
    _show(rush, files=files, timeout=timeout, drop_timeout=drop_timeout)


@app.command()
def scale(
    participants: int = typer.Option(50),
    years: int = typer.Option(10),
    timeout: float = typer.Option(SCALE_TIMEOUT_S, help="Seconds any one step may take."),
):
    """The cold cycle at participants x years (synthetic)."""
    _show(scale_cold_cycle, participants=participants, years=years, timeout=timeout)


@app.command()
def sequence(timeout: float = typer.Option(TIMEOUT_S)):
    """Cold cycle, nothing new, one resubmission, on one home."""
    _show(sample_sequence, timeout=timeout)


@app.command()
def sample(timeout: float = typer.Option(TIMEOUT_S)):
    """The cold cycle on the sample, in the same shape as `scale`."""
    _show(sample_cold_cycle, timeout=timeout)


if __name__ == "__main__":
    app()
