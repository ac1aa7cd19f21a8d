"""Content validation findings for people: a summary check and the submitters' feedback.

The findings and data quality marts are dbt models (assets `marts/mart_validation_findings`,
`marts/mart_data_quality`). This module adds what Dagster shows about them:

- `findings_summary`, a non-blocking check on the findings mart: counts by severity and a
  markdown preview of the first findings; WARN when errors keep values out of the release;
- `quality/submission_feedback`, an asset that appends each current submission's findings
  and the open queries of its participant-year to its validation report
  (reports/<submission_id>.json and .html), so the submitter reads structural issues,
  content findings and the team's questions on one page.

Both read the warehouse read-only, in the DuckDB pool (a reader cannot open the file while
another process writes it).
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.defs.resources import DUCKDB_WRITER_POOL, HomeResource
from reporting.markdown import markdown_table
from runtime.warehouse import connect_warehouse

FINDINGS_MART = dg.AssetKey(["marts", "mart_validation_findings"])
DATA_QUALITY_MART = dg.AssetKey(["marts", "mart_data_quality"])
SUBMISSION_FEEDBACK = dg.AssetKey(["quality", "submission_feedback"])
PREVIEW_ROWS = 20


def findings_summary_result(warehouse: Path) -> dg.AssetCheckResult:
    """Counts by severity and a preview of the findings in the warehouse (errors first): of
    every submission that counts, approved or not."""
    from reporting.findings import COLUMNS, severity_counts
    from reporting.findings import WAREHOUSE_FINDINGS_TABLE as FINDINGS_TABLE

    with connect_warehouse(warehouse, read_only=True) as con:
        cursor = con.execute(
            f"select {', '.join(COLUMNS)} from {FINDINGS_TABLE} order by "
            "case severity when 'error' then 0 else 1 end, explained, collection_year desc, "
            "participant_code, rule_id"
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        by_rule = con.execute(
            f"select rule_id, severity, count(*) as findings, "
            f"count(*) filter (where explained) as explained "
            f"from {FINDINGS_TABLE} group by rule_id, severity "
            "order by severity, findings desc, rule_id"
        ).fetchall()
    counts = severity_counts(rows)
    preview = [
        {
            "participant": r["participant_code"],
            "year": r["collection_year"],
            "severity": r["severity"],
            "rule": r["rule_id"],
            "finding": r["message"],
            "explained": "yes" if r["explained"] else "no",
        }
        for r in rows
    ]
    return dg.AssetCheckResult(
        passed=counts["errors"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **counts,
            "participants_with_errors": len(
                {
                    (r["participant_code"], r["collection_year"])
                    for r in rows
                    if r["severity"] == "error"
                }
            ),
            "findings_by_rule": dg.MetadataValue.md(
                markdown_table(
                    [
                        {"rule": rule, "severity": sev, "findings": n, "explained": e}
                        for rule, sev, n, e in by_rule
                    ],
                    limit=100,
                )
            ),
            "preview": dg.MetadataValue.md(markdown_table(preview, limit=PREVIEW_ROWS)),
        },
        description=(
            f"{counts['errors']} error(s) keep values out of the release; "
            f"{counts['warnings']} warning(s), {counts['warnings_explained']} explained."
        ),
    )


@dg.asset_check(
    asset=FINDINGS_MART,
    name="findings_summary",
    blocking=False,
    pool=DUCKDB_WRITER_POOL,
    description=(
        "Content validation findings by severity with a preview. Warns when error findings keep "
        "values out of the release (they are suppressed there, so the release is not blocked)."
    ),
)
def findings_summary(home: HomeResource) -> dg.AssetCheckResult:
    return findings_summary_result(home.home.warehouse)


@dg.asset(
    key=SUBMISSION_FEEDBACK,
    deps=[FINDINGS_MART, dg.AssetKey(["marts", "mart_queries"])],
    group_name="quality",
    kinds={"python", "html"},
    owners=["team:data-engineering"],
    pool=DUCKDB_WRITER_POOL,
    description=(
        "Each current submission's content validation findings appended to its validation "
        "report (reports/<submission_id>.json and .html) for the submitter."
    ),
)
def submission_feedback(
    context: dg.AssetExecutionContext, home: HomeResource
) -> dg.MaterializeResult:
    from reporting.findings import findings_by_submission, severity_counts
    from reporting.submitter_report import append_findings
    from workflow.actions import queries

    paths = home.home
    with connect_warehouse(paths.warehouse, read_only=True) as con:
        grouped = findings_by_submission(con)
        # the open queries of each participant-year, listed beside the findings
        open_queries: dict[tuple[str, int], list[dict]] = {}
        for query in queries(con, open_only=True):
            key = (query["participant_code"], query["collection_year"])
            open_queries.setdefault(key, []).append(query)
        current = con.execute(
            "select submission_id, participant_code, collection_year "
            "from intermediate.int_latest_submissions order by collection_year, participant_code"
        ).fetchall()
    evaluated_at = datetime.now(UTC).replace(tzinfo=None)
    rows, missing = [], []
    for submission_id, participant, year in current:
        findings = grouped.get(submission_id, [])
        report = append_findings(
            paths,
            submission_id,
            findings,
            evaluated_at,
            queries=open_queries.get((participant, year), []),
        )
        if report is None:
            missing.append(submission_id)
            continue
        counts = severity_counts(findings)
        rows.append(
            {
                "participant": participant,
                "year": year,
                "submission": submission_id,
                "errors": counts["errors"],
                "warnings": counts["warnings"],
                "explained": counts["warnings_explained"],
                "report": report.relative_to(paths.root).as_posix()
                if report.is_relative_to(paths.root)
                else str(report),
            }
        )
    if missing:
        context.log.warning(f"no report to append findings to for: {', '.join(missing)}")
    context.log.info(f"findings appended to {len(rows)} submission report(s)")
    rows.sort(key=lambda r: (-r["errors"], -(r["warnings"] - r["explained"]), r["participant"]))
    return dg.MaterializeResult(
        metadata={
            "reports_updated": len(rows),
            "reports_missing": len(missing),
            "submissions_with_errors": sum(1 for r in rows if r["errors"]),
            "reports_dir": dg.MetadataValue.path(str(paths.reports)),
            "preview": dg.MetadataValue.md(markdown_table(rows, limit=PREVIEW_ROWS)),
        }
    )


findings_checks = [findings_summary]
findings_assets = [submission_feedback]
