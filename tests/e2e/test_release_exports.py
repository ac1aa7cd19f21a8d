"""The exports of the sample release, read back and compared with its marts value for value:
SDMX (read with pysdmx, the data with the structure it ships) and the Excel workbook (read
with openpyxl and calamine).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import duckdb
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from orchestration.dbt_manifest import DBT_PROJECT_DIR, project_vars

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cycle")]


@pytest.fixture(scope="module")
def release(cycle) -> Path:
    return (cycle.home / "releases" / "current").resolve()


def marts(release: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(release / "mhbench.duckdb"), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def seed(name: str) -> list[dict]:
    with (DBT_PROJECT_DIR / "seeds" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def same_number(got, want) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and not math.isnan(got) and float(got) == float(want)


# -- SDMX -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def structure(release):
    from pysdmx.io import read_sdmx

    return read_sdmx(release / "sdmx" / "structure.xml")  # validated against the XSD


def datasets(release: Path, name: str):
    from pysdmx.io import get_datasets

    (dataset,) = get_datasets(release / "sdmx" / name, release / "sdmx" / "structure.xml")
    return dataset


def test_sdmx_structure_has_the_code_lists_of_the_seeds_and_the_flows(structure):
    agency, version = project_vars()["sdmx_agency_id"], project_vars()["sdmx_version"]
    lists = {cl.id: cl for cl in structure.get_codelists()}
    assert {c.id for c in lists["CL_AREA"]} >= {p["participant_code"] for p in seed("participants")}
    assert [c.id for c in lists["CL_INDICATOR"]] == sorted(
        i["indicator_code"] for i in seed("indicators")
    )
    flag_codes = {c.id: c.name for c in lists["CL_OBS_STATUS"]}
    for flag in seed("flags"):
        assert flag_codes[flag["sdmx_obs_status"]] == flag["meaning"]
    assert {"M", "L", "E", "P", "B", "D", "A"} <= set(flag_codes)
    assert [c.id for c in lists["CL_CONF_STATUS"]] == ["C", "F"]
    assert all(cl.agency == agency and cl.version == version for cl in lists.values())

    dsds = {d.id: d for d in structure.get_data_structure_definitions()}
    values = dsds["DSD_INDICATOR_VALUES"].components
    assert [c.id for c in values.dimensions] == ["REF_AREA", "INDICATOR", "TIME_PERIOD"]
    assert [c.id for c in values.measures] == ["OBS_VALUE"]
    assert [c.id for c in values.attributes] == [
        "OBS_STATUS",
        "CONF_STATUS",
        "UNIT_MEASURE",
        "UNIT_MULT",
        "COMMENT_OBS",
    ]
    assert [c.id for c in dsds["DSD_BENCHMARKS"].components.dimensions] == [
        "REF_AREA",
        "INDICATOR",
        "STATISTIC",
        "TIME_PERIOD",
    ]
    flows = {f.id: f for f in structure.get_dataflows()}
    assert set(flows) == {"DF_INDICATOR_VALUES", "DF_BENCHMARKS"}
    assert "DSD_INDICATOR_VALUES" in str(flows["DF_INDICATOR_VALUES"].structure)


def test_sdmx_indicator_values_are_the_mart_value_for_value(release):
    dataset = datasets(release, "indicator_values.csv")
    frame = dataset.data
    expected = marts(
        release,
        "select v.*, i.unit_label from marts.fct_indicator_values v "
        "join marts.dim_indicator i using (indicator_code)",
    )
    assert len(frame) == len(expected)
    got = {(r["REF_AREA"], r["TIME_PERIOD"], r["INDICATOR"]): r for r in frame.to_dict("records")}
    flag_status = {f["flag"]: f["sdmx_obs_status"] for f in seed("flags")}
    seen = {"C": 0, "M": 0, "L": 0, "flagged": 0}
    for want in expected:
        row = got[(want["participant_code"], str(want["collection_year"]), want["indicator_code"])]
        value = None if want["suppressed"] else want["value"]
        assert same_number(row["OBS_VALUE"], value), (want, row)
        assert row["CONF_STATUS"] == ("C" if want["suppressed"] else "F")
        seen["C"] += want["suppressed"]
        if want["null_reason"] in flag_status:
            assert row["OBS_STATUS"] == flag_status[want["null_reason"]]
            seen[row["OBS_STATUS"]] += 1
        elif want["null_reason"]:
            assert row["OBS_STATUS"] == "O"
        elif want["flags"]:
            assert row["OBS_STATUS"] in {flag_status[f] for f in want["flags"].split(",")}
            seen["flagged"] += 1
        else:
            assert row["OBS_STATUS"] == "A"
        # SDMX-CSV has no null: an empty field is an absent attribute
        assert (row["COMMENT_OBS"] or None) == (want["footnote"] or None)
        assert row["UNIT_MULT"] == 0
        assert row["UNIT_MEASURE"]
    # the sample exercises every attribute value
    assert seen["C"] and seen["M"] and seen["flagged"], seen


def test_sdmx_benchmarks_are_the_marts_value_for_value(release):
    frame = datasets(release, "benchmarks.csv").data
    got = {
        (r["REF_AREA"], r["INDICATOR"], r["STATISTIC"], r["TIME_PERIOD"]): r["OBS_VALUE"]
        for r in frame.to_dict("records")
    }
    statistics = {"n": "N", "min": "MIN", "p25": "P25", "median": "MEDIAN", "p75": "P75"}
    statistics |= {"max": "MAX", "mean": "MEAN"}
    overall = marts(release, "select * from marts.mart_benchmark")
    peers = marts(release, "select * from marts.mart_benchmark_peer_group")
    assert len(got) == len(frame) == 7 * (len(overall) + len(peers))
    for area, rows in [("ALL", overall), *((None, [p]) for p in peers)]:
        for want in rows:
            code = area or f"PEER_{want['peer_group'].upper()}"
            for column, statistic in statistics.items():
                key = (code, want["indicator_code"], statistic, str(want["collection_year"]))
                assert same_number(got[key], want[column]), (key, got[key], want[column])


# -- the workbook ---------------------------------------------------------------------------


def test_release_workbook_has_a_readme_and_every_mart_typed(release):
    manifest = json.loads((release / "manifest.json").read_text())
    path = release / f"mhbench-{release.name}.xlsx"
    assert manifest["exports"]["xlsx"] == path.name
    assert path.name in manifest["files"] and "sdmx/benchmarks.csv" in manifest["files"]
    published = sorted(manifest["marts"])
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["README", *published]
    readme = [c for row in wb["README"].iter_rows(values_only=True) for c in row if c]
    assert release.name in readme and manifest["created_at"] in readme
    for heading in ("How to read", "Flags", "Disclosure control"):
        assert heading in readme
    assert any(str(c).startswith("estimated: ") for c in readme)
    assert "DRAFT — not for circulation" not in readme

    calamine = CalamineWorkbook.from_path(str(path))
    for mart in published:
        rows = list(wb[mart].iter_rows(values_only=True))
        expected = marts(release, f"select * from marts.{mart}")
        assert len(rows) - 1 == manifest["marts"][mart] == len(expected), mart
        assert list(rows[0]) == list(expected[0]), mart
        assert len(calamine.get_sheet_by_name(mart).to_python()) == len(rows)
    # numbers are numbers, value for value
    values = list(wb["fct_indicator_values"].iter_rows(values_only=True))
    header = values[0]
    expected = {
        (r["participant_code"], r["collection_year"], r["indicator_code"]): r
        for r in marts(release, "select * from marts.fct_indicator_values")
    }
    for row in values[1:]:
        record = dict(zip(header, row, strict=True))
        want = expected[
            (record["participant_code"], record["collection_year"], record["indicator_code"])
        ]
        assert record.keys() == want.keys()
        for column, value in want.items():
            if isinstance(value, float):
                # XlsxWriter writes 16 significant digits (Excel shows 15); a whole
                # number reads back as an int
                assert isinstance(record[column], int | float), column
                assert math.isclose(record[column], value, rel_tol=1e-15), column
            else:
                assert record[column] == value, column
