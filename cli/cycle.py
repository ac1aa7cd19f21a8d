"""What `mhbench run` shows: progress while the cycle runs, and the summary after it.

File names, participant codes and issue messages (which quote values from returns) are
untrusted: every line is built from `rich.text.Text`, never from markup, so a value such
as `[/]` is printed as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.output import Part, line

if TYPE_CHECKING:
    from orchestration.run_cycle import CycleOutcome, ProgressUpdate
    from runtime.home import Home

ERRORS_SHOWN = 3  # per rejected file; the rest are in its report


class ConsoleCycleDisplay:
    """A `CycleDisplay` on a rich console: spinners, notes, and a progress bar of steps."""

    def __init__(self, console: Console) -> None:
        # The cycle redirects stdout into the run log while it executes (dbt prints there):
        # draw on the terminal the console has now, not on whatever stdout is later.
        self.console = Console(file=console.file)

    def status(self, text: str):
        return self.console.status(Text(text))

    def note(self, text: str) -> None:
        self.console.print(Text(text))

    @contextlib.contextmanager
    def progress(self, total_steps: int) -> Iterator[ProgressUpdate]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}", markup=False, style="bold"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task("annual cycle", total=total_steps)

            def update(done: int, step: str | None) -> None:
                progress.update(task, completed=done, description=f"running {step or '...'}")

            yield update


def print_summary(home: Home, outcome: CycleOutcome, console: Console) -> None:
    """Submissions accepted and rejected (with the first errors of each rejected file), the
    checks that did not pass, and the release with how to query it."""

    def say(*parts: Part) -> None:
        console.print(line(*parts), soft_wrap=True)  # paths stay whole, to be copied

    if outcome.run_id is None:
        say(("Nothing to run", "red"), f": {outcome.failure}")
        return

    console.rule(Text("Submissions"))
    if outcome.submissions_note:
        say((outcome.submissions_note, "yellow"))
    if outcome.submissions is not None:
        counts = outcome.submissions.counts
        say(
            "accepted: ",
            (str(counts.get("accepted", 0)), "green"),
            "   rejected: ",
            (str(counts.get("rejected", 0)), "red"),
            *(
                ("   held (approved, locked): ", (str(counts["held"]), "yellow"))
                if counts.get("held")
                else ()
            ),
        )
        for rejected in outcome.submissions.rejected:
            errors = rejected.errors
            say(
                ("rejected", "red"),
                f" {rejected.filename} ({rejected.participant_code or '?'} "
                f"{rejected.collection_year or '?'}): {len(errors)} "
                f"error{'' if len(errors) == 1 else 's'}",
                f", report {rejected.report_path}" if rejected.report_path else "",
            )
            for issue in errors[:ERRORS_SHOWN]:
                say(f"    {issue.get('place', '')}: {issue.get('message', '')}")
            if len(errors) > ERRORS_SHOWN:
                say(f"    ... and {len(errors) - ERRORS_SHOWN} more in the report")

    console.rule(Text("Checks"))
    failed = [c for c in outcome.checks if not c["passed"]]
    if outcome.checks or not outcome.unchanged_since:
        say(f"{len(outcome.checks) - len(failed)} of {len(outcome.checks)} checks passed")
    else:
        say("no check ran: nothing was built")
    if failed:
        table = Table("asset", "check", "severity", header_style="bold")
        for c in failed:
            table.add_row(Text(c["asset"]), Text(c["check"]), Text(str(c["severity"])))
        console.print(table)

    console.rule(Text("Release"))
    if outcome.unchanged_since:
        say(
            ("Nothing changed", "green"),
            f" since {outcome.unchanged_since}: no new file, approval or code since it was built, "
            "so nothing was rebuilt or published.",
        )
    elif outcome.release_path and outcome.kind == "draft":
        say(("Published a draft", "yellow"), f" {outcome.release_path}")
        say("DRAFT — not for circulation: for participants to review; it never becomes current.")
        say(f"Draft packs, one per participant: {home.outbox}/<year>/drafts/")
        say("Next: record each lead's sign-off and approve, e.g.")
        say(
            "  uv run mhbench signoff SE 2024 --by NAME   then   uv run mhbench approve SE 2024 --by NAME"
        )
        say("  uv run mhbench status --year 2024")
    elif outcome.release_path:
        db = outcome.release_path / "mhbench.duckdb"
        say(("Published", "green"), f" {outcome.release_path}")
        say(f"current -> {home.current_release}")
        say("Query it:")
        say('  uv run mhbench query "select * from marts.mart_benchmark limit 10"')
        say(
            f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True)"
            ".sql('from marts.mart_benchmark'))\""
        )
    else:
        say(("No release published", "red"), ": the previous release (if any) stays current.")
        if outcome.failure:
            say(outcome.failure)
    say(f"Dagster run {outcome.run_id} (see it with `make ui`); dbt log: {outcome.log_path}")
