"""Cost of content validation: dbt build of the marts with and without the rule models.

Synthetic data at scale from scripts/synthetic_scale.py (shared with bench_dbt_scale.py): 50
participants x 10 collection years (500 accepted returns, every dictionary item) in raw.* of a
temporary warehouse, with synthetic participants / population / PPP / calendar seeds in a
temporary copy of the dbt project. 1.5 % of the submitted values are perturbed (outliers and NK)
so that every rule kind produces findings.

After one warm-up build, `dbt build --exclude test_type:unit` is timed with the rule models
(full build) and without them (`--exclude` the rule, findings and data quality models and
their seed); runs alternate and the medians are reported and written to
bench-results/bench_rules.json.

    uv run --frozen python scripts/bench_rules.py [--runs 3]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_scale import prepare  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
console = Console()
N_PARTICIPANTS = 50
N_YEARS = 10
PERTURBED = 0.015
RULE_MODELS = [
    "validation_rules",
    "int_validation_rules",
    "int_validation_rule_operands",
    "int_rule_item_checks",
    "int_rule_indicator_checks",
    "int_rule_year_on_year",
    "int_rule_completeness",
    "int_validation_blocked_items",
    "mart_validation_findings",
    "mart_data_quality",
]


def _dbt(project: Path, home: Path, target: Path, *args: str) -> dict[str, float]:
    """Run dbt; wall seconds, dbt's own elapsed seconds, and node seconds (rule nodes apart)."""
    env = dict(
        os.environ,
        MHBENCH_HOME=str(home),
        DBT_TARGET_PATH=str(target),
        DBT_LOG_PATH=str(target / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    dbt = Path(sys.executable).with_name("dbt")
    start = time.perf_counter()
    done = subprocess.run(
        [str(dbt), *args, "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        console.print(done.stdout[-4000:])
        raise SystemExit(f"dbt {' '.join(args)} failed")
    results = json.loads((target / "run_results.json").read_text())
    nodes = results["results"]
    rule_nodes = [
        r
        for r in nodes
        if any(f".{m}" in r["unique_id"] or f"_{m}_" in r["unique_id"] for m in RULE_MODELS)
    ]
    return {
        "wall_s": wall,
        "dbt_elapsed_s": results["elapsed_time"],
        "node_s": sum(r["execution_time"] for r in nodes),
        "rule_node_s": sum(r["execution_time"] for r in rule_nodes),
        "nodes": len(nodes),
    }


def main(runs: int = typer.Option(3, help="Timed builds of each variant (medians reported).")):
    with tempfile.TemporaryDirectory(prefix="mhbench-bench-rules-") as name:
        tmp = Path(name)
        with console.status(f"generating {N_PARTICIPANTS} participants x {N_YEARS} years"):
            scale = prepare(tmp, N_PARTICIPANTS, N_YEARS, perturb=PERTURBED)
        project, warehouse, n_values = scale.project, scale.warehouse, scale.return_values
        home, target = scale.home, tmp / "target"
        base = ["build", "--exclude", "test_type:unit"]
        without = [*base, *RULE_MODELS]
        with console.status("warm-up build"):
            _dbt(project, home, target, *base)
        timings: dict[str, list[dict[str, float]]] = {"without_rules": [], "with_rules": []}
        for i in range(runs):
            with console.status(f"run {i + 1}/{runs}"):
                timings["without_rules"].append(_dbt(project, home, target, *without))
                timings["with_rules"].append(_dbt(project, home, target, *base))
        with duckdb.connect(str(warehouse), read_only=True) as con:
            findings = dict(
                con.execute(
                    "select severity, count(*) from marts.mart_validation_findings group by 1"
                ).fetchall()
            )
            rules = con.execute("select count(*) from reference.validation_rules").fetchone()[0]
    medians = {
        variant: {
            metric: round(statistics.median(run[metric] for run in runs_), 2)
            for metric in ("wall_s", "dbt_elapsed_s", "node_s", "rule_node_s", "nodes")
        }
        for variant, runs_ in timings.items()
    }
    with_, without_ = medians["with_rules"], medians["without_rules"]
    added = {
        metric: round(100 * (with_[metric] / without_[metric] - 1), 1)
        for metric in ("wall_s", "dbt_elapsed_s", "node_s")
    }
    rule_share = round(100 * with_["rule_node_s"] / with_["node_s"], 1)
    result = {
        "participants": N_PARTICIPANTS,
        "years": N_YEARS,
        "return_values": n_values,
        "rules": rules,
        "findings": findings,
        "runs": timings,
        "median": medians,
        "added_pct": added,
        "rule_nodes_share_of_node_time_pct": rule_share,
    }
    out = REPO / "bench-results" / "bench_rules.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    table = Table(title=f"dbt build, {N_PARTICIPANTS} participants x {N_YEARS} years (medians)")
    for column in ("variant", "nodes", "wall s", "dbt elapsed s", "node s", "rule node s"):
        table.add_column(column, justify="right")
    for key in ("without_rules", "with_rules"):
        m = medians[key]
        table.add_row(
            key,
            f"{m['nodes']:.0f}",
            f"{m['wall_s']:.1f}",
            f"{m['dbt_elapsed_s']:.1f}",
            f"{m['node_s']:.1f}",
            f"{m['rule_node_s']:.1f}",
        )
    table.add_row(
        "added",
        "",
        f"{added['wall_s']:+.1f}%",
        f"{added['dbt_elapsed_s']:+.1f}%",
        f"{added['node_s']:+.1f}%",
        f"{rule_share:.1f}% of node time",
    )
    console.print(table)
    console.print(
        f"{n_values} values, {rules} rules, findings {findings} (written to {out.relative_to(REPO)})"
    )


if __name__ == "__main__":
    typer.run(main)
