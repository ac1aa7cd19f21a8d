"""Benchmarking marts of the published release, recomputed row by row with pandas.

The only inputs are the release's published fct_indicator_values and dim_participant;
the statistics (numpy's linear percentile = Excel PERCENTILE.INC), ranks, quartiles and
year-on-year changes are computed here independently of the project's SQL.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]

TOL = 1e-9
KEY_POSITION = ["participant_code", "collection_year", "indicator_code"]
KEY_TRENDS = ["participant_code", "indicator_code", "collection_year"]
KEY_PEER = ["indicator_code", "collection_year", "peer_group"]


@pytest.fixture(scope="module")
def release(cycle):
    db = cycle.home / "releases" / "current" / "mhbench.duckdb"
    assert db.exists(), cycle.run_output
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            name: con.execute(f"select * from marts.{name}").df()
            for name in (
                "fct_indicator_values",
                "dim_participant",
                "mart_benchmark_peer_group",
                "mart_participant_position",
                "mart_trends",
            )
        }
    return tables


def _published(release) -> pd.DataFrame:
    """Values that count for statistics: published (not null, hence not suppressed)."""
    fct = release["fct_indicator_values"]
    peers = release["dim_participant"][["participant_code", "peer_group"]]
    values = fct[fct["value"].notna()][[*KEY_POSITION, "value"]]
    return values.merge(peers, on="participant_code", how="left")


def _stats(values: np.ndarray) -> dict[str, float]:
    return {
        "n": len(values),
        "min": values.min(),
        "p25": np.percentile(values, 25),
        "median": np.percentile(values, 50),
        "p75": np.percentile(values, 75),
        "max": values.max(),
        "mean": values.mean(),
    }


def _group_stats(values: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    rows = [
        {**dict(zip(keys, key, strict=True)), **_stats(group["value"].to_numpy())}
        for key, group in values.groupby(keys)
    ]
    return pd.DataFrame(rows)


def _pct_from(value: pd.Series, reference: pd.Series) -> pd.Series:
    """% difference from a reference, over its absolute value: below it is negative."""
    return ((value - reference) / reference.abs() * 100).where(reference != 0)


def _assert_frames_equal(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str]) -> None:
    """Same keys, same rows; numbers to 1e-9, everything else exactly (null == null)."""
    assert not actual.duplicated(keys).any()
    assert set(expected.columns) == set(actual.columns), set(expected.columns) ^ set(actual.columns)
    merged = expected.merge(actual, on=keys, how="outer", suffixes=("_exp", "_act"), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, missing[[*keys, "_merge"]].head(10)
    assert len(merged) == len(actual) == len(expected)
    for column in (c for c in expected.columns if c not in keys):
        exp, act = merged[f"{column}_exp"], merged[f"{column}_act"]
        both_null = exp.isna() & act.isna()
        if pd.api.types.is_float_dtype(act) or pd.api.types.is_float_dtype(exp):
            e, a = exp.astype(float), act.astype(float)
            same = both_null | np.isclose(e, a, rtol=TOL, atol=TOL)
        else:
            same = both_null | (exp.astype(object) == act.astype(object))
        bad = merged.loc[~same, [*keys, f"{column}_exp", f"{column}_act"]]
        assert bad.empty, f"{column} differs in {len(bad)} rows:\n{bad.head(10)}"


def test_benchmark_peer_group_recomputed(release):
    values = _published(release).dropna(subset=["peer_group"])
    expected = _group_stats(values, KEY_PEER)
    actual = release["mart_benchmark_peer_group"]
    assert actual["peer_group"].nunique() > 1
    _assert_frames_equal(expected, actual, KEY_PEER)


def test_participant_position_recomputed(release):
    values = _published(release)
    overall = _group_stats(values, ["indicator_code", "collection_year"])
    peer = _group_stats(values.dropna(subset=["peer_group"]), KEY_PEER)

    expected = values.merge(overall, on=["indicator_code", "collection_year"])
    # Rank 1 = highest value; ties share the lowest rank of the tie (1, 1, 3).
    expected["rank"] = (
        expected.groupby(["indicator_code", "collection_year"])["value"]
        .rank(method="min", ascending=False)
        .astype(int)
    )
    v = expected["value"]
    expected["quartile"] = np.select(
        [v >= expected["p75"], v >= expected["median"], v >= expected["p25"]], [1, 2, 3], 4
    )
    expected["pct_from_median"] = _pct_from(v, expected["median"])
    expected = expected[
        [*KEY_POSITION, "value", "rank", "n", "quartile", "median", "pct_from_median", "peer_group"]
    ]

    with_peer = expected.dropna(subset=["peer_group"]).copy()
    with_peer["peer_rank"] = (
        with_peer.groupby(KEY_PEER)["value"].rank(method="min", ascending=False).astype(int)
    )
    expected = expected.merge(with_peer[[*KEY_POSITION, "peer_rank"]], on=KEY_POSITION, how="left")
    expected = expected.merge(
        peer[[*KEY_PEER, "n", "median"]].rename(columns={"n": "peer_n", "median": "peer_median"}),
        on=KEY_PEER,
        how="left",
    )
    expected["peer_pct_from_median"] = _pct_from(expected["value"], expected["peer_median"])

    actual = release["mart_participant_position"]
    assert len(actual) == release["fct_indicator_values"]["value"].notna().sum()
    _assert_frames_equal(expected, actual, KEY_POSITION)


def test_trends_recomputed(release):
    fct = release["fct_indicator_values"][[*KEY_TRENDS, "value", "flags"]]

    def flag_set(flags) -> set[str]:
        return set() if pd.isna(flags) else {f.strip() for f in str(flags).split(",")}

    previous = fct.assign(collection_year=fct["collection_year"] + 1).rename(
        columns={"value": "previous_year_value", "flags": "previous_year_flags"}
    )
    expected = fct.merge(previous, on=KEY_TRENDS, how="left", indicator="has_previous")
    prev_value = expected["previous_year_value"]
    expected["change_pct"] = _pct_from(expected["value"], prev_value)
    breaks = []
    for row in expected.itertuples():
        current, before = flag_set(row.flags), flag_set(row.previous_year_flags)
        has_previous = row.has_previous == "both"
        # B marks the first value of a new series: the change into it crosses the break,
        # the change after it does not (DESIGN.md, "Conventions")
        breaks.append("B" in current or (has_previous and ("D" in current) != ("D" in before)))
    expected["break_in_series"] = breaks
    expected = expected.drop(columns="has_previous")

    actual = release["mart_trends"]
    assert len(actual) == len(fct)
    # The sample has a gap year (a structurally rejected return): no bridging across it.
    assert (
        expected["previous_year_value"].isna()
        & expected["collection_year"].gt(expected["collection_year"].min())
    ).any()
    _assert_frames_equal(expected, actual, KEY_TRENDS)
