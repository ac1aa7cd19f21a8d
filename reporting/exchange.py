"""Exchange suggestions for the network, read from mart_exchange_suggestions: per section, the
pairs of participants alike in context but farthest apart there (the mart decides who is alike
and how far apart; nothing is computed here). A release made before the mart has none.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

EXCHANGE_MART = "mart_exchange_suggestions"
PAIRS_PER_SECTION = 3
# The thresholds of the method are dbt vars (their one home), quoted on the page.
DBT_PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project" / "dbt_project.yml"


@cache
def method_settings() -> dict:
    """The method's thresholds as the page states them."""
    import yaml

    dbt_vars = yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]
    return {
        "max_population_ratio": dbt_vars["exchange_max_population_ratio"],
        "max_spend_pct": round(dbt_vars["exchange_max_spend_difference"] * 100),
        "min_gap_iqr": dbt_vars["exchange_min_gap_iqr"],
        "per_section": PAIRS_PER_SECTION,
    }


def load_exchange_suggestions(
    con, year: int, names: dict[str, str], indicator_names: dict[str, str]
) -> dict[str, list[dict]]:
    """Section -> its first pairs of `year` (by suggestion_rank), as rows for the page."""
    cursor = con.execute(
        f"select * from marts.{EXCHANGE_MART} where collection_year = ? order by suggestion_rank",
        [year],
    )
    columns = [d[0] for d in cursor.description]
    by_section: dict[str, list[dict]] = {}
    for values in cursor.fetchall():
        r = dict(zip(columns, values, strict=True))
        pairs = by_section.setdefault(r["section"], [])
        if len(pairs) >= PAIRS_PER_SECTION:
            continue
        pairs.append(
            {
                "a": names.get(r["participant_a"], r["participant_a"]),
                "b": names.get(r["participant_b"], r["participant_b"]),
                "population_a": r["population_a"] / 1e6,
                "population_b": r["population_b"] / 1e6,
                "spend_a": r["spend_per_head_a"],
                "spend_b": r["spend_per_head_b"],
                "n_indicators": r["n_indicators"],
                "mean_gap_iqr": r["mean_gap_iqr"],
                "widest": indicator_names.get(r["widest_indicator"], r["widest_indicator"]),
                "widest_gap_iqr": r["widest_gap_iqr"],
            }
        )
    return by_section
