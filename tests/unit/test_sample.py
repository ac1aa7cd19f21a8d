"""The sample generator: deterministic, realistic, consistent, with the planted bad returns.

The files are read back the way a parser would (calamine for xlsx, csv for CSV),
so the tests check what actually lands in the inbox, not the generator's internals.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from demo.sample_returns import SampleSummary, generate_sample
from ingestion.dictionary import FLAGS_WITHOUT_VALUE, Dictionary, load_dictionary
from ingestion.template import fiscal_period
from runtime.home import Home

YEARS = range(2019, 2025)
# Public contracts (docs/architecture.md, "Contracts"), written out here rather than imported
# from the code under test: the header of the Data sheet and that of a CSV return.
DATA_HEADER = ("item_code", "item_name", "unit", "value", "flag", "comment")
CSV_HEADER = ("participant_code", "collection_year", "item_code", "value", "flag", "comment")


@dataclass(frozen=True)
class Cell:
    value: float | str | None
    flag: str | None
    comment: str | None


@dataclass(frozen=True)
class Return:
    participant: str
    year: int
    header: tuple[str, ...]
    about: dict[str, object]
    cells: dict[str, Cell]

    def value(self, item: str) -> float | None:
        """A numeric value, or None when blank (NA/NK)."""
        v = self.cells[item].value
        assert v is None or isinstance(v, float), f"{item}: {v!r} is not numeric"
        return v


def _blank(text: object) -> object:
    return None if text in ("", None) else text


def _read_xlsx(path: Path) -> tuple[tuple[str, ...], dict, list[list[object]]]:
    wb = CalamineWorkbook.from_path(str(path))
    about = {row[0]: _blank(row[1]) for row in wb.get_sheet_by_name("About").to_python()}
    rows = wb.get_sheet_by_name("Data").to_python()
    return tuple(rows[0]), about, [[r[0], r[3], r[4], r[5]] for r in rows[1:]]


def _read_csv(path: Path) -> tuple[tuple[str, ...], dict, list[list[object]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    header, body = tuple(lines[0]), lines[1:]
    about = {"participant_code": {r[0] for r in body}, "collection_year": {r[1] for r in body}}
    return header, about, [[r[2], float(r[3]) if r[3] else None, r[4], r[5]] for r in body]


def read_return(path: Path) -> Return:
    participant, year = path.stem.rsplit("_", 1)
    reader = _read_xlsx if path.suffix == ".xlsx" else _read_csv
    header, about, rows = reader(path)
    cells = {
        str(code): Cell(
            float(value) if isinstance(value, int | float) else _blank(value),
            _blank(flag),
            _blank(comment),
        )
        for code, value, flag, comment in rows
    }
    assert len(cells) == len(rows), f"{path.name}: duplicate item codes"
    return Return(participant, int(year), header, about, cells)


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    return generate_sample(Home(tmp_path_factory.mktemp("home")), seed=2024)


@pytest.fixture(scope="module")
def good(sample: SampleSummary) -> dict[tuple[str, int], Return]:
    returns = [read_return(p) for p in sample.good_files]
    return {(r.participant, r.year): r for r in returns}


# --------------------------------------------------------------------------- files


def test_one_return_per_participant_and_year(sample: SampleSummary, dictionary) -> None:
    names = {(p.parent.name, p.stem) for p in sample.files}
    expected = {(str(y), f"{c}_{y}") for c in dictionary.participants for y in YEARS}
    assert names == expected
    assert all(p.exists() and p.parent.parent.name == "inbox" for p in sample.files)


def test_about_one_participant_in_five_sends_csv(sample: SampleSummary) -> None:
    assert len(sample.csv_participants) == 2
    for path in sample.files:
        participant = path.stem.rsplit("_", 1)[0]
        assert path.suffix == (".csv" if participant in sample.csv_participants else ".xlsx")


def test_csv_returns_follow_format_v1(sample: SampleSummary) -> None:
    csv_files = [p for p in sample.good_files if p.suffix == ".csv"]
    assert csv_files
    for path in csv_files:
        ret = read_return(path)
        assert ret.header == CSV_HEADER
        assert ret.about == {
            "participant_code": {ret.participant},
            "collection_year": {str(ret.year)},
        }


@pytest.mark.parametrize(
    ("participant", "start", "end"),
    [
        ("GB-ENG", date(2023, 4, 1), date(2024, 3, 31)),
        ("NZ", date(2023, 7, 1), date(2024, 6, 30)),
        ("NO", date(2023, 1, 1), date(2023, 12, 31)),
        ("CA-ON", date(2023, 4, 1), date(2024, 3, 31)),
    ],
)
def test_about_follows_the_participants_fiscal_year(good, participant, start, end) -> None:
    ret = good[(participant, 2023)]
    assert ret.header == DATA_HEADER
    assert ret.about["period_start"] == start
    assert ret.about["period_end"] == end
    assert ret.about["participant_code"] == participant
    assert int(ret.about["collection_year"]) == 2023
    assert str(ret.about["template_version"]) == "1"


def test_about_currency_and_some_coverage_notes(good, dictionary) -> None:
    xlsx = [r for r in good.values() if r.header == DATA_HEADER]
    for ret in xlsx:
        assert ret.about["currency"] == dictionary.participants[ret.participant].currency
    notes = {r.participant for r in xlsx if r.about.get("coverage_note")}
    assert {"IE", "AU", "JE"} <= notes
    assert notes != {r.participant for r in xlsx}


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_values_whatever_else_is_generated(
    sample: SampleSummary, good, tmp_path: Path
) -> None:
    """A subset run must reproduce the full run: values never depend on other participants."""
    subset = generate_sample(
        Home(tmp_path),
        seed=2024,
        years=range(2021, 2023),
        participants=["GB-NIR", "JE", "NZ"],
        include_bad=False,
    )
    compared = 0
    for path in subset.good_files:
        ret = read_return(path)
        if (ret.participant, ret.year) not in good:
            continue
        assert ret.cells == good[(ret.participant, ret.year)].cells, path.name
        if path.suffix == ".csv":
            full = next(p for p in sample.files if p.name == path.name)
            assert path.read_bytes() == full.read_bytes()
        compared += 1
    assert compared == 6


def test_another_seed_gives_other_values(good, tmp_path: Path) -> None:
    other = generate_sample(Home(tmp_path), seed=7, years=range(2021, 2022), participants=["SE"])
    ret = read_return(other.files[0])
    before = good[("SE", 2021)]
    assert ret.value("AA_BEDS") != before.value("AA_BEDS")
    assert ret.value("FIN_MH_SPEND") != before.value("FIN_MH_SPEND")


def test_clean_sample_has_no_bad_returns(tmp_path: Path) -> None:
    clean = generate_sample(Home(tmp_path), years=range(2022, 2024), include_bad=False)
    assert clean.bad == []
    assert clean.good_files == clean.files


# --------------------------------------------------------------------------- content


def _le(ret: Return, small: str, big: str) -> None:
    a, b = ret.value(small), ret.value(big)
    if a is not None and b is not None:
        assert a <= b, f"{ret.participant} {ret.year}: {small}={a} > {big}={b}"


CONSISTENCY = [
    ("AA_OBD", "AA_ABD"),
    ("OA_OBD", "OA_ABD"),
    ("CYP_OBD", "CYP_ABD"),
    ("AA_READMISSIONS_30D", "AA_DISCHARGES"),
    ("OA_READMISSIONS_30D", "OA_DISCHARGES"),
    ("AA_FOLLOWUP_7D", "AA_DISCHARGES"),
    ("AA_MHA_ADMISSIONS", "AA_ADMISSIONS"),
    ("AA_GATEKEPT_ADMISSIONS", "AA_ADMISSIONS"),
    ("AA_DELAYED_DAYS", "AA_OBD"),
    ("AA_MHA_ADMISSIONS", "MHA_DETENTIONS"),
    ("WF_REG_NURSING_WTE", "WF_NURSING_WTE"),
    ("WF_NURSING_WTE", "WF_TOTAL_WTE"),
    ("WF_PSYCHIATRIST_WTE", "WF_TOTAL_WTE"),
    ("WF_TOTAL_WTE", "WF_FUNDED_WTE"),
    ("WF_VACANT_WTE", "WF_FUNDED_WTE"),
    ("CYPC_ACCEPTED", "CYPC_REFERRALS"),
    ("CYPC_CASELOAD", "CYPC_CHILDREN_SEEN"),
    ("CYPC_CHILDREN_SEEN", "CYPC_CONTACTS"),
    ("AC_ACCEPTED", "AC_REFERRALS"),
    ("AC_CASELOAD", "AC_PEOPLE_IN_CONTACT"),
    ("AC_DNAS", "AC_BOOKED"),
    ("AC_CONTACTS", "AC_BOOKED"),
    ("CR_URGENT_SEEN_4H", "CR_URGENT_REFERRALS"),
    ("CR_LIAISON_ASSESSMENTS", "CR_ED_ATTENDANCES"),
    ("FIN_COMMUNITY_SPEND", "FIN_MH_SPEND"),
    ("FIN_INPATIENT_SPEND", "FIN_MH_SPEND"),
    ("FIN_CAMHS_SPEND", "FIN_MH_SPEND"),
    ("FIN_MH_SPEND", "FIN_HEALTH_SPEND"),
    ("SAF_PRONE_RESTRAINT", "SAF_RESTRAINT"),
    ("SAF_INPATIENT_SUICIDES", "SAF_PATIENTS"),
]


@pytest.mark.parametrize(("small", "big"), CONSISTENCY, ids=[f"{a}<={b}" for a, b in CONSISTENCY])
def test_good_returns_are_consistent(good, small: str, big: str) -> None:
    for ret in good.values():
        _le(ret, small, big)


def _sum(ret: Return, *items: str) -> float:
    return sum(v for i in items if (v := ret.value(i)) is not None)


def test_parts_never_exceed_their_totals(good) -> None:
    for ret in good.values():
        staff = _sum(ret, "WF_PSYCHIATRIST_WTE", "WF_NURSING_WTE", "WF_PSYCHOLOGIST_WTE")
        assert staff <= ret.value("WF_TOTAL_WTE")
        assert _sum(ret, "FIN_COMMUNITY_SPEND", "FIN_INPATIENT_SPEND") <= ret.value("FIN_MH_SPEND")
        assert _sum(ret, "AA_OBD", "OA_OBD", "CYP_OBD") <= ret.value("SAF_OBD")
        if ret.value("AC_BOOKED") is not None:  # NK for CA-ON 2019
            assert _sum(ret, "AC_CONTACTS", "AC_DNAS") <= ret.value("AC_BOOKED")
        funded, vacant = ret.value("WF_FUNDED_WTE"), ret.value("WF_VACANT_WTE")
        assert funded - vacant == pytest.approx(ret.value("WF_TOTAL_WTE"), abs=0.11)


def test_bed_days_follow_beds_and_the_period(good, dictionary) -> None:
    for ret in good.values():
        start_month = dictionary.participants[ret.participant].fiscal_year_start_month
        start, end = fiscal_period(ret.year, start_month)
        days = (end - start).days + 1
        for prefix in ("AA", "OA", "CYP"):
            beds = ret.value(f"{prefix}_BEDS")
            if beds is None:
                continue
            assert ret.value(f"{prefix}_ABD") == pytest.approx(beds * days, abs=1)
        occupancy = ret.value("AA_OBD") / ret.value("AA_ABD")
        assert 0.85 <= occupancy <= 1.0


@pytest.mark.parametrize(("prefix", "low", "high"), [("AA", 20, 40), ("OA", 50, 80)])
def test_length_of_stay_is_realistic(good, prefix: str, low: float, high: float) -> None:
    for ret in good.values():
        los = ret.value(f"{prefix}_DISCHARGE_OBD") / ret.value(f"{prefix}_DISCHARGES")
        assert low <= los <= high, f"{ret.participant} {ret.year}: {prefix} LOS {los:.1f}"


def test_spend_is_in_national_currency(good, dictionary) -> None:
    """Per head in international $ is plausible only if the PPP was applied the right way."""
    for (code, year), ret in good.items():
        per_head = (
            ret.value("FIN_MH_SPEND")
            / dictionary.ppp[(code, year)]
            / dictionary.population[(code, year, "all")]
        )
        assert 150 <= per_head <= 1000, f"{code} {year}: {per_head:.0f} $ per head"


def test_values_within_dictionary_bounds(good, dictionary) -> None:
    for ret in good.values():
        for code, cell in ret.cells.items():
            item = dictionary.items[code]
            if cell.value is None:
                continue
            assert item.lower_bound is None or cell.value >= item.lower_bound, code
            assert item.upper_bound is None or cell.value <= item.upper_bound, code


def test_adult_acute_rates_near_reference_values(good, dictionary) -> None:
    """Median across participants near domain.md: ~20 beds per 100k aged 18-64, LOS ~30."""
    rates = sorted(
        ret.value("AA_BEDS") / dictionary.population[(code, year, "18-64")] * 1e5
        for (code, year), ret in good.items()
    )
    assert 15 <= rates[len(rates) // 2] <= 28


def test_every_return_has_every_item_once(good, dictionary) -> None:
    for ret in good.values():
        assert set(ret.cells) == set(dictionary.items)


# --------------------------------------------------------------------------- flags


def test_flags_are_used_correctly(good, dictionary) -> None:
    for ret in good.values():
        for code, cell in ret.cells.items():
            if cell.flag in FLAGS_WITHOUT_VALUE:
                assert cell.value is None, f"{ret.participant} {ret.year} {code}"
            else:
                assert cell.value is not None, f"{ret.participant} {ret.year} {code} blank"
            if cell.flag == "D":
                assert cell.comment
            if dictionary.items[code].mandatory and cell.value is None:
                assert cell.flag in FLAGS_WITHOUT_VALUE


def test_sample_exercises_every_flag(good) -> None:
    used = {c.flag for r in good.values() for c in r.cells.values() if c.flag}
    assert used == {"NA", "NK", "E", "P", "B", "D"}
    breaks = [
        (r.participant, r.year, i)
        for r in good.values()
        for i, c in r.cells.items()
        if c.flag == "B"
    ]
    assert breaks == [("GB-SCT", 2022, "AA_BEDS")]


def test_no_service_means_na(good) -> None:
    je = good[("JE", 2022)]
    assert je.cells["CYP_BEDS"].flag == "NA"
    assert je.cells["CYP_BEDS"].comment
    assert je.value("CYP_ADULT_WARD_ADMISSIONS") is not None
    assert good[("IE", 2022)].cells["MHA_CTOS"].flag == "NA"


def test_jersey_has_counts_disclosure_control_must_suppress(good, dictionary) -> None:
    person_counts = [c for c, i in dictionary.items.items() if i.is_person_count]
    for year in YEARS:
        ret = good[("JE", year)]
        small = [c for c in person_counts if (v := ret.value(c)) is not None and 1 <= v <= 7]
        assert len(small) >= 2, f"JE {year}: {small}"


def test_every_indicator_can_be_computed_for_most_participants(good, dictionary) -> None:
    for indicator in dictionary.indicators.values():
        for year in YEARS:
            returns = [r for (_, y), r in good.items() if y == year]
            computable = [
                r
                for r in returns
                if r.value(indicator.numerator_item) is not None
                and (indicator.denominator_item is None or r.value(indicator.denominator_item))
            ]
            assert len(computable) >= 9, f"{indicator.indicator_code} {year}"


# --------------------------------------------------------------------------- bad returns


def test_the_two_bad_returns_are_listed(sample: SampleSummary) -> None:
    kinds = {(b.kind, b.participant_code, b.year, b.path.name) for b in sample.bad}
    assert kinds == {
        ("structural", "NL", 2023, "NL_2023.xlsx"),
        ("content", "GB-WLS", 2022, "GB-WLS_2022.xlsx"),
    }
    assert all(b.reason and b.path in sample.files for b in sample.bad)
    assert len(sample.good_files) == len(sample.files) - 2


def test_structurally_bad_return_breaks_the_header_and_a_value(sample: SampleSummary) -> None:
    (bad,) = sample.bad_of_kind("structural")
    header, _, rows = _read_xlsx(bad.path)
    assert header[3] == "amount"
    assert ["AA_LEAVE_DAYS", "n/a"] in [row[:2] for row in rows]
    assert "Data!D1" in bad.reason


def test_content_bad_return_is_structurally_fine_but_inconsistent(sample: SampleSummary) -> None:
    (bad,) = sample.bad_of_kind("content")
    ret = read_return(bad.path)
    assert ret.header == DATA_HEADER
    assert all(isinstance(c.value, float | None) for c in ret.cells.values())
    assert ret.value("AA_READMISSIONS_30D") > ret.value("AA_DISCHARGES")
