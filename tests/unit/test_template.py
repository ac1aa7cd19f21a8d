"""The template writer: sheets, header, drop-down, exact round trip, fiscal periods."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from ingestion.dictionary import load_dictionary
from ingestion.template import fiscal_period, write_return_workbook, write_template

# Public contracts (docs/architecture.md, "Contracts"), written out here rather than imported
# from the code under test: a change to the code's constants must fail here, not move along.
DATA_HEADER = ("item_code", "item_name", "unit", "value", "flag", "comment")
ABOUT_FIELDS = (
    "participant_code",
    "participant_name",
    "collection_year",
    "period_start",
    "period_end",
    "currency",
    "template_version",
    "coverage_note",
)

SEEDS = {
    "data_items.csv": (
        "item_code,section,item_name,unit,age_band,is_person_count,mandatory,"
        "lower_bound,upper_bound,definition\n"
        "BED_ADULT,beds,Adult inpatient beds,beds,18-64,false,true,0,,Beds open on 31 March\n"
        "ADM_ADULT,activity,Adult admissions,count,18-64,true,true,0,,Admissions in period\n"
        "SPEND_TOTAL,finance,Total spend,currency,all,false,false,0,,All MH spend\n"
        "BED_CHILD,beds,Child inpatient beds,beds,0-17,false,true,0,,Beds for under 18s\n"
    ),
    "indicators.csv": (
        "indicator_code,section,indicator_name,numerator_item,denominator_item,"
        "denominator_population_band,multiplier,unit_label,higher_is_better,uses_ppp,definition\n"
    ),
    "participants.csv": (
        "participant_code,participant_name,currency,fiscal_year_start_month,peer_group\n"
        "SE,Sweden,SEK,1,nordic\n"
        "GB-ENG,England,GBP,4,uk\n"
        "NZ,New Zealand,NZD,7,anz\n"
    ),
    "population.csv": "participant_code,year,age_band,population\n",
    "ppp.csv": "participant_code,year,ppp_per_usd\n",
}


@pytest.fixture
def dictionary(tmp_path: Path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in SEEDS.items():
        (seeds / name).write_text(text, encoding="utf-8")
    return load_dictionary(seeds)


def _sheet(path: Path, name: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


@pytest.mark.parametrize(
    ("year", "month", "start", "end"),
    [
        (2023, 1, date(2023, 1, 1), date(2023, 12, 31)),
        (2023, 4, date(2023, 4, 1), date(2024, 3, 31)),
        (2023, 7, date(2023, 7, 1), date(2024, 6, 30)),
        (2024, 3, date(2024, 3, 1), date(2025, 2, 28)),
        (2023, 3, date(2023, 3, 1), date(2024, 2, 29)),
    ],
)
def test_fiscal_period(year, month, start, end):
    assert fiscal_period(year, month) == (start, end)


def test_fiscal_period_rejects_bad_month():
    with pytest.raises(ValueError):
        fiscal_period(2023, 13)


def test_template_sheets_about_and_rows(tmp_path, dictionary):
    path = write_template(tmp_path / "GB-ENG_2023.xlsx", "GB-ENG", 2023, dictionary)

    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Instructions", "About", "Data", "Definitions"]

    about = {row[0]: row[1] for row in _sheet(path, "About")}
    assert list(about) == list(ABOUT_FIELDS)
    assert about["participant_code"] == "GB-ENG"
    assert about["participant_name"] == "England"
    assert about["collection_year"] == 2023
    assert about["period_start"] == date(2023, 4, 1)
    assert about["period_end"] == date(2024, 3, 31)
    assert about["currency"] == "GBP"
    assert about["template_version"] == "1"
    assert about["coverage_note"] == ""
    # real date and integer cells, not text
    ws = wb["About"]
    assert ws["B3"].value == 2023 and isinstance(ws["B3"].value, int)
    assert ws["B4"].is_date and ws["B5"].is_date

    data = _sheet(path, "Data")
    assert tuple(data[0]) == DATA_HEADER
    # sorted by section, then code; values/flags/comments blank
    assert [r[0] for r in data[1:]] == ["ADM_ADULT", "BED_ADULT", "BED_CHILD", "SPEND_TOTAL"]
    assert data[2][1:3] == ["Adult inpatient beds", "beds"]
    assert all(r[3:] == ["", "", ""] for r in data[1:])
    assert wb["Data"].freeze_panes == "A2"
    assert wb["Data"]["A1"].font.bold

    definitions = _sheet(path, "Definitions")
    assert definitions[0] == [
        "item_code",
        "section",
        "item_name",
        "unit",
        "age_band",
        "mandatory",
        "definition",
    ]
    assert definitions[4] == [
        "SPEND_TOTAL",
        "finance",
        "Total spend",
        "currency",
        "all",
        "no",
        "All MH spend",
    ]

    instructions = "\n".join(str(c) for row in _sheet(path, "Instructions") for c in row)
    assert "A true zero is 0 with no flag" in instructions
    for flag in ("NA", "NK", "E", "P", "B", "D"):
        assert f"\n{flag}\n" in instructions
    # The flag legend, from seed flags: code, meaning, whether a value goes with it, notes.
    legend = {row[0]: row for row in _sheet(path, "Instructions") if row and row[0]}
    assert legend["flag"][:4] == ["flag", "meaning", "value", "notes"]
    assert legend["(blank)"][:3] == ["(blank)", "normal", "required"]
    assert legend["NA"][:3] == ["NA", "not applicable", "must be blank"]
    assert legend["NK"][:3] == ["NK", "not known", "must be blank"]
    assert legend["E"][:3] == ["E", "estimated", "required"]
    assert legend["D"][:3] == ["D", "definition differs from the dictionary", "required"]
    assert "say how in the comment" in legend["D"][3]


def test_template_flag_dropdown(tmp_path, dictionary):
    path = write_template(tmp_path / "SE.xlsx", "SE", 2023, dictionary)
    validations = openpyxl.load_workbook(path)["Data"].data_validations.dataValidation
    assert len(validations) == 1
    dv = validations[0]
    assert dv.type == "list"
    assert dv.formula1 == '"NA,NK,E,P,B,D"'
    assert dv.allow_blank
    assert dv.error == "Use one of NA, NK, E, P, B, D, or leave the flag blank."
    assert dv.prompt == "Blank = normal. NA/NK: leave value blank. E, P, B, D: value required."
    assert str(dv.sqref) == "E2:E5"


def test_template_unknown_participant(tmp_path, dictionary):
    with pytest.raises(KeyError, match="XX"):
        write_template(tmp_path / "x.xlsx", "XX", 2023, dictionary)


def test_template_new_zealand_period(tmp_path, dictionary):
    path = write_template(tmp_path / "NZ.xlsx", "NZ", 2022, dictionary)
    about = {row[0]: row[1] for row in _sheet(path, "About")}
    assert (about["period_start"], about["period_end"]) == (date(2022, 7, 1), date(2023, 6, 30))


ROWS = [
    {"item_code": "BED_ADULT", "value": 1234, "flag": None, "comment": None},
    {"item_code": "ADM_ADULT", "value": 0, "flag": None, "comment": "a true zero"},
    {"item_code": "SPEND_TOTAL", "value": 98765.25, "flag": "E", "comment": "=SUM(A1:A9)"},
    {"item_code": "BED_CHILD", "value": None, "flag": "NA", "comment": "+44 no unit"},
    {"item_code": "UNKNOWN", "value": None, "flag": "NK", "comment": "-not known"},
    {"item_code": "X2", "value": 3.5, "flag": "D", "comment": "@mention <b>"},
]


def test_return_workbook_round_trip(tmp_path, dictionary):
    about = {
        "participant_code": "SE",
        "participant_name": "Sweden",
        "collection_year": 2023,
        "period_start": date(2023, 1, 1),
        "period_end": "2023-12-31",
        "currency": "SEK",
        "template_version": "1",
        "coverage_note": "=cmd|' /C calc'!A0",
    }
    path = write_return_workbook(tmp_path / "SE_2023.xlsx", about, ROWS, dictionary)

    assert CalamineWorkbook.from_path(str(path)).sheet_names == ["About", "Data", "Definitions"]
    read_about = {row[0]: row[1] for row in _sheet(path, "About")}
    assert read_about["period_start"] == date(2023, 1, 1)
    assert read_about["period_end"] == date(2023, 12, 31)  # ISO text became a real date
    assert read_about["coverage_note"] == "=cmd|' /C calc'!A0"

    data = _sheet(path, "Data")
    assert tuple(data[0]) == DATA_HEADER
    got = [(r[0], r[3], r[4], r[5]) for r in data[1:]]
    want = [
        (
            r["item_code"],
            "" if r["value"] is None else r["value"],
            r["flag"] or "",
            r["comment"] or "",
        )
        for r in ROWS
    ]
    assert got == want
    # names/units from the dictionary; unknown codes blank
    assert data[1][1:3] == ["Adult inpatient beds", "beds"]
    assert data[5][1:3] == ["", ""]

    # formula-like text is stored as text, never as a formula
    ws = openpyxl.load_workbook(path)["Data"]
    for row in range(2, len(ROWS) + 2):
        assert ws.cell(row=row, column=6).data_type != "f"
    assert ws["F4"].value == "=SUM(A1:A9)" and ws["F4"].data_type == "s"


def test_return_workbook_is_reproducible(tmp_path, dictionary):
    about = {"participant_code": "SE", "collection_year": 2023}
    first = write_return_workbook(tmp_path / "a.xlsx", about, ROWS, dictionary)
    second = write_return_workbook(tmp_path / "b.xlsx", about, ROWS, dictionary)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    props = openpyxl.load_workbook(first).properties
    assert props.created == props.modified
    assert props.created.year == 2024
