"""Lines of enquiry in words: the sentences of reporting/enquiry_sentences.py, and which rows
of mart_lines_of_enquiry the report picks (reporting/enquiries.py), on a known dataset."""

from __future__ import annotations

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from reporting.enquiries import load_enquiries
from reporting.enquiry_sentences import Wording, change_sentence, difference_sentence

NAMES = {"SE": "Sweden", "NO": "Norway", "GB-SCT": "Scotland", "GB-WLS": "Wales"}
INDICATORS = {
    "AA_ADMISSIONS_PER_100K": {
        "indicator_name": "Adult acute admissions per 100,000 population",
        "unit_label": "per 100,000 population aged 18-64",
        "higher_is_better": None,
    },
    "WF_VACANCY_RATE": {
        "indicator_name": "Vacancy rate",
        "unit_label": "%",
        "higher_is_better": False,
    },
    "CYP_BEDS_PER_100K": {
        "indicator_name": "CYP inpatient beds per 100,000 population",
        "unit_label": "per 100,000 population aged 0-17",
        "higher_is_better": True,
    },
}


def wording(code: str, participant: str = "Sweden", peers=("Norway", "Scotland")) -> Wording:
    i = INDICATORS[code]
    return Wording(participant, i["indicator_name"], i["unit_label"], i["higher_is_better"], peers)


def row(**kw) -> dict:
    base = {
        "collection_year": 2024,
        "n": 12,
        "value": 141.6,
        "median": 240.0,
        "pct_from_median": -41.0,
        "distance_iqr": -2.1,
        "direction": "neutral",
        "change_pct": None,
        "previous_year_value": None,
        "typical_abs_change_pct": None,
        "p90_abs_change_pct": None,
        "caveats": [],
    }
    return {**base, **kw}


def test_difference_sentence_as_in_the_issue():
    sentence = difference_sentence(
        row(caveats=["Coverage: Excludes private hospitals."]), wording("AA_ADMISSIONS_PER_100K")
    )
    assert sentence == (
        "Sweden's adult acute admissions per 100,000 population is 41 % lower than the median "
        "of 12 participants (142 per 100,000 population aged 18-64 against 240); Norway and "
        "Scotland are at the other end; note: coverage: Excludes private hospitals."
    )
    # The submitter's own full stop is not doubled.
    assert not sentence.endswith("..")


def test_difference_sentence_says_better_or_worse_by_the_indicator_direction():
    better = difference_sentence(
        row(value=5.1, median=9.5, pct_from_median=-46.3, direction="better"),
        wording("WF_VACANCY_RATE", peers=["Wales"]),
    )
    assert better == (
        "Sweden's vacancy rate is 46 % lower than the median of 12 participants (5.10 % against "
        "9.50), which is better (lower is better); Wales is at the other end."
    )
    worse = difference_sentence(
        row(value=2.0, median=4.0, pct_from_median=-50.0, direction="worse"),
        wording("CYP_BEDS_PER_100K", participant="Wales", peers=[]),
    )
    # An acronym keeps its capitals; a name ending in s takes an apostrophe alone.
    assert worse == (
        "Wales' CYP inpatient beds per 100,000 population is 50 % lower than the median of 12 "
        "participants (2.00 per 100,000 population aged 0-17 against 4.00), which is worse "
        "(higher is better)."
    )


def test_difference_from_a_zero_median_is_told_in_interquartile_ranges():
    sentence = difference_sentence(
        row(value=3.0, median=0.0, pct_from_median=None, distance_iqr=1.5),
        wording("AA_ADMISSIONS_PER_100K", peers=[]),
    )
    assert "is 1.5 interquartile ranges above the median of 12 participants" in sentence


def test_change_sentence_names_what_is_usual():
    sentence = change_sentence(
        row(
            value=5.1,
            previous_year_value=5.84,
            change_pct=-12.7,
            typical_abs_change_pct=4.0,
            p90_abs_change_pct=10.2,
            caveats=["Provisional value (P flag)"],
        ),
        wording("WF_VACANCY_RATE"),
    )
    assert sentence == (
        "Sweden's vacancy rate fell by 12.7 % from 2023 to 2024 (5.84 to 5.10 %), while its "
        "typical yearly change is 4.0 % and 9 in 10 participants changed by 10.2 % or less; "
        "note: provisional value (P flag)."
    )


PEER = (
    "struct(participant_code varchar, participant_name varchar, value double, rank integer, "
    "n integer, quartile integer, same_peer_group boolean)[]"
)


def test_the_report_takes_the_first_five_rows_and_the_first_three_unusual_changes():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.mart_lines_of_enquiry (participant_code varchar, collection_year "
        "integer, indicator_code varchar, value double, n integer, median double, "
        "pct_from_median double, distance_iqr double, direction varchar, group_basis varchar, "
        "previous_year_value double, change_pct double, typical_abs_change_pct double, "
        "p90_abs_change_pct double, change_unusual boolean, caveats varchar[], "
        f"peers {PEER}, score double, enquiry_rank integer, is_enquiry boolean)"
    )
    peers = (
        "[{'participant_code': 'NO', 'participant_name': 'Norway', 'value': 300.0, 'rank': 1, "
        "'n': 12, 'quartile': 1, 'same_peer_group': true}]"
    )
    for rank in range(1, 9):
        unusual = rank in (2, 6, 7, 8)
        con.execute(
            "insert into marts.mart_lines_of_enquiry values ('SE', 2024, ?, 141.6, 12, 240, -41,"
            f" ?, 'neutral', 'all_participants', 130, ?, 2, null, ?, [], {peers}, ?, ?, ?)",
            [
                f"IND_{rank}",
                -3.0 + rank * 0.1,
                8.9 if unusual else 1.0,
                unusual,
                5 - rank * 0.5,
                rank,
                rank <= 7,
            ],
        )
    # Another participant and another year are not Sweden's 2024 enquiries.
    con.execute(
        "insert into marts.mart_lines_of_enquiry select * replace ('NO' as participant_code) "
        "from marts.mart_lines_of_enquiry where enquiry_rank = 1"
    )
    con.execute(
        "insert into marts.mart_lines_of_enquiry select * replace (2023 as collection_year) "
        "from marts.mart_lines_of_enquiry where participant_code = 'SE' and enquiry_rank = 1"
    )
    found = load_enquiries(con, "SE", 2024, NAMES, {})
    assert [d["code"] for d in found.differences] == [f"IND_{r}" for r in (1, 2, 3, 4, 5)]
    assert [c["code"] for c in found.changes] == ["IND_2", "IND_6", "IND_7"]
    assert (found.n_enquiries, found.n_rows) == (7, 8)
    first = found.differences[0]
    assert first["peers"] == [
        {
            "name": "Norway",
            "code": "NO",
            "value": 300.0,
            "position": "1 of 12",
            "same_peer_group": True,
        }
    ]
    # Without a dictionary entry the code stands for the indicator's name.
    assert first["sentence"].startswith("Sweden's IND_1 is 41 % lower than the median of 12")
    assert found.changes[0]["sentence"].startswith("Sweden's IND_2 rose by 8.9 % from 2023 to 2024")


@given(
    value=st.floats(min_value=0.01, max_value=1e6),
    median=st.floats(min_value=0.01, max_value=1e6),
    n=st.integers(min_value=2, max_value=40),
    direction=st.sampled_from(["better", "worse", "neutral"]),
    caveats=st.lists(st.text(min_size=1, max_size=30), max_size=3),
)
def test_a_difference_sentence_states_side_and_count_and_ends_once(
    value, median, n, direction, caveats
):
    pct = (value - median) / abs(median) * 100
    sentence = difference_sentence(
        row(
            value=value,
            median=median,
            n=n,
            pct_from_median=pct,
            direction=direction,
            caveats=caveats,
        ),
        wording("WF_VACANCY_RATE"),
    )
    assert sentence.startswith("Sweden's vacancy rate is ")
    assert f"the median of {n} participants" in sentence
    if value != median:
        side = "higher" if value > median else "lower"
        assert f"{abs(pct):.0f} % {side} than the median" in sentence
    assert sentence.endswith(".") and not sentence.endswith("..")
