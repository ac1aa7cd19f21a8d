"""The SDMX rules of a release that need no release: unit codes, the one OBS_STATUS of a
value, and a structure written and read back with pysdmx (validated against the XSD)."""

from __future__ import annotations

import csv

import pytest

from orchestration.dbt_manifest import DBT_PROJECT_DIR
from publishing.sdmx import (
    SdmxInput,
    SdmxSettings,
    benchmark_rows,
    indicator_value_rows,
    obs_status,
    structures,
    unit_code,
)

FLAGS = {
    row["flag"]: row["sdmx_obs_status"]
    for row in csv.DictReader((DBT_PROJECT_DIR / "seeds" / "flags.csv").open(encoding="utf-8"))
}


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("%", "PCT"),
        ("% of population aged 0-17", "PCT_OF_POPULATION_AGED_0_17"),
        ("international $ per head", "INTERNATIONAL_USD_PER_HEAD"),
        ("per 100,000 population aged 65+", "PER_100_000_POPULATION_AGED_65"),
    ],
)
def test_unit_codes_are_sdmx_ids(label, code):
    assert unit_code(label) == code


def test_obs_status_from_the_flags_seed():
    assert FLAGS["NA"] == "M" and FLAGS["NK"] == "L"
    assert obs_status(None, None, FLAGS) == "A"
    assert obs_status(None, "NA", FLAGS) == "M"
    assert obs_status(None, "NK", FLAGS) == "L"
    assert obs_status(None, "denominator_zero", FLAGS) == "O"
    assert obs_status("E", None, FLAGS) == "E"
    # one status per observation: a comparability caveat wins over a quality caveat
    assert obs_status("D,E,P", None, FLAGS) == "D"
    assert obs_status("B,D", None, FLAGS) == "B"


def small_input() -> SdmxInput:
    return SdmxInput(
        participants=[("SE", "Sweden"), ("NO", "Norway")],
        peer_groups=["nordic"],
        indicators=[("BEDS_PER_100K", "Beds per 100,000", "per 100,000 population")],
        flags=[("NA", "not applicable", "M"), ("NK", "not known", "L"), ("E", "estimated", "E")],
        values=[
            {
                "participant_code": "SE",
                "collection_year": 2024,
                "indicator_code": "BEDS_PER_100K",
                "value": 12.5,
                "flags": "E",
                "null_reason": None,
                "suppressed": False,
                "footnote": "=not a formula",
            },
            {
                "participant_code": "NO",
                "collection_year": 2024,
                "indicator_code": "BEDS_PER_100K",
                "value": None,
                "flags": None,
                "null_reason": None,
                "suppressed": True,
                "footnote": None,
            },
        ],
        benchmarks=[
            {"area": "ALL", "indicator_code": "BEDS_PER_100K", "collection_year": 2024}
            | {"n": 1, "min": 12.5, "p25": 12.5, "median": 12.5, "p75": 12.5}
            | {"max": 12.5, "mean": 12.5}
        ],
    )


def test_rows_carry_status_confidentiality_and_footnote():
    se, no = indicator_value_rows(small_input())
    assert (se["OBS_VALUE"], se["OBS_STATUS"], se["CONF_STATUS"]) == (12.5, "E", "F")
    assert se["COMMENT_OBS"] == "=not a formula" and se["UNIT_MEASURE"] == "PER_100_000_POPULATION"
    assert (no["OBS_VALUE"], no["CONF_STATUS"]) == (None, "C")
    stats = benchmark_rows(small_input())
    assert [r["STATISTIC"] for r in stats] == ["N", "MIN", "P25", "MEDIAN", "P75", "MAX", "MEAN"]
    assert stats[0]["UNIT_MEASURE"] == "PARTICIPANTS" and stats[0]["OBS_VALUE"] == 1.0


def test_structure_round_trips_through_pysdmx(tmp_path):
    from pysdmx.io import read_sdmx
    from pysdmx.io.format import Format
    from pysdmx.io.writer import write_sdmx

    settings = SdmxSettings("TESTAGENCY", "2.1.0")
    path = tmp_path / "structure.xml"
    write_sdmx(structures(settings, small_input()), Format.STRUCTURE_SDMX_ML_3_0, str(path))
    message = read_sdmx(path)  # validates against the SDMX-ML 3.0 schema
    lists = {cl.id: [c.id for c in cl] for cl in message.get_codelists()}
    assert lists["CL_AREA"] == ["SE", "NO", "ALL", "PEER_NORDIC"]
    assert lists["CL_OBS_STATUS"] == ["A", "M", "L", "E", "O"]
    assert {d.agency for d in message.get_data_structure_definitions()} == {"TESTAGENCY"}
    assert {f.version for f in message.get_dataflows()} == {"2.1.0"}
