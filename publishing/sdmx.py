"""SDMX of a release, for partner agencies (OECD, Eurostat, WHO): `releases/<id>/sdmx/`.

- `indicator_values.csv`: SDMX-CSV 2.0 of `fct_indicator_values`, one observation per
  participant (`REF_AREA`) x year (`TIME_PERIOD`) x indicator (`INDICATOR`).
- `benchmarks.csv`: SDMX-CSV 2.0 of `mart_benchmark` (`REF_AREA` = `ALL`) and
  `mart_benchmark_peer_group` (`REF_AREA` = `PEER_<group>`), with a `STATISTIC` dimension
  (N, MIN, P25, MEDIAN, P75, MAX, MEAN).
- `structure.xml`: SDMX-ML 3.0 structure: the code lists (areas from the participants,
  indicators, observation status from the flags seed, confidentiality status, units,
  statistics), the concept scheme, a data structure definition and a dataflow per file.

Attributes of every observation:
- `OBS_STATUS` (CL_OBS_STATUS): the flags seed's `sdmx_obs_status` (E, P, B, D; NA -> M,
  NK -> L), `A` for a normal value, `O` for a value missing for another reason (an input
  missing, a zero denominator). SDMX has one status per observation: when a value carries
  several flags, the first of `FLAG_PRIORITY` wins (the comparability caveats first); the
  footnote still says all.
- `CONF_STATUS` (CL_CONF_STATUS): `C` when disclosure control suppressed the value (then
  `OBS_VALUE` is empty), `F` (free) otherwise.
- `UNIT_MEASURE` (CL_UNIT_MEASURE): the indicator's unit label (codes derived from it);
  `UNIT_MULT` is 0 everywhere: values are in units of that label ("per 100,000 population"
  is in the unit itself, not a power of ten of the value).
- `COMMENT_OBS`: the footnote, as published.

Text is written exactly as it is in the marts (no spreadsheet quote): SDMX-CSV is read by
machines, and a partner's validation compares it value for value.

The agency, the version of every artefact and the ids are dbt vars (`sdmx_agency_id`,
`sdmx_version` in `dbt_project.yml`), read by the caller and passed as `SdmxSettings`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publishing.reference import Flag

SDMX_DIR = "sdmx"
INDICATOR_VALUES_FILE = "indicator_values.csv"
BENCHMARKS_FILE = "benchmarks.csv"
STRUCTURE_FILE = "structure.xml"

INDICATOR_VALUES_FLOW = "DF_INDICATOR_VALUES"
BENCHMARKS_FLOW = "DF_BENCHMARKS"

# One OBS_STATUS per observation: the first flag of this order that a value carries.
FLAG_PRIORITY = ("B", "D", "E", "P")
NORMAL_STATUS = ("A", "normal value")
OTHER_MISSING_STATUS = ("O", "missing value (an input is missing or a denominator is zero)")
CONF_STATUS = (("C", "confidential (suppressed by disclosure control)"), ("F", "free"))
ALL_PARTICIPANTS = ("ALL", "All participants")
PEER_PREFIX = "PEER_"
# The statistics of the benchmark marts, in their order, and their SDMX codes.
STATISTICS = {
    "n": ("N", "number of participants"),
    "min": ("MIN", "minimum"),
    "p25": ("P25", "25th percentile (PERCENTILE.INC)"),
    "median": ("MEDIAN", "median"),
    "p75": ("P75", "75th percentile (PERCENTILE.INC)"),
    "max": ("MAX", "maximum"),
    "mean": ("MEAN", "mean"),
}
PARTICIPANTS_UNIT = ("PARTICIPANTS", "participants")


@dataclass(frozen=True)
class SdmxSettings:
    agency_id: str
    version: str

    @classmethod
    def from_dbt_vars(cls, dbt_vars: dict) -> SdmxSettings:
        return cls(str(dbt_vars["sdmx_agency_id"]), str(dbt_vars["sdmx_version"]))

    def flow_urn(self, flow: str) -> str:
        return f"{self.agency_id}:{flow}({self.version})"


def unit_code(label: str) -> str:
    """An SDMX id for a unit label: `%` -> PCT, `$` -> USD, other runs of symbols -> `_`."""
    text = label.replace("%", " PCT ").replace("$", " USD ")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def obs_status(flags: str | None, null_reason: str | None, flag_status: dict[str, str]) -> str:
    """The OBS_STATUS of one value from its flags and why it is null (see the module doc)."""
    if null_reason:
        return flag_status.get(null_reason, OTHER_MISSING_STATUS[0])
    present = {f.strip() for f in (flags or "").split(",") if f.strip()}
    for flag in FLAG_PRIORITY:
        if flag in present:
            return flag_status[flag]
    return NORMAL_STATUS[0]


# -- what the release holds ---------------------------------------------------------------


@dataclass(frozen=True)
class SdmxInput:
    participants: list[tuple[str, str]]  # code, name
    peer_groups: list[str]
    indicators: list[tuple[str, str, str]]  # code, name, unit label
    flags: list[tuple[str, str, str]]  # flag, meaning, sdmx_obs_status
    values: list[dict]
    benchmarks: list[dict]


def read_release(release_db: Path, flags: list[Flag]) -> SdmxInput:
    """The marts of the release, and the flags of the release (`publishing.reference`)."""
    import duckdb

    def records(con, sql: str) -> list[dict]:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    with duckdb.connect(str(release_db), read_only=True) as con:
        participants = con.execute(
            "select participant_code, participant_name from marts.dim_participant order by 1"
        ).fetchall()
        indicators = con.execute(
            "select indicator_code, indicator_name, unit_label from marts.dim_indicator order by 1"
        ).fetchall()
        peer_groups = [
            r[0]
            for r in con.execute(
                "select distinct peer_group from marts.mart_benchmark_peer_group order by 1"
            ).fetchall()
        ]
        values = records(
            con,
            "select participant_code, collection_year, indicator_code, value, flags, "
            "null_reason, suppressed, footnote from marts.fct_indicator_values order by all",
        )
        stats = ", ".join(f'"{s}"' for s in STATISTICS)
        benchmarks = records(
            con,
            f"select '{ALL_PARTICIPANTS[0]}' as area, indicator_code, collection_year, {stats} "
            "from marts.mart_benchmark union all "
            f"select '{PEER_PREFIX}' || upper(peer_group), indicator_code, collection_year, "
            f"{stats} from marts.mart_benchmark_peer_group order by all",
        )
    return SdmxInput(
        participants,
        peer_groups,
        indicators,
        [(f.flag, f.meaning, f.sdmx_obs_status) for f in flags],
        values,
        benchmarks,
    )


# -- structure ----------------------------------------------------------------------------


def _codelist(settings: SdmxSettings, cl_id: str, name: str, codes):
    from pysdmx.model import Code, Codelist

    return Codelist(
        id=cl_id,
        name=name,
        agency=settings.agency_id,
        version=settings.version,
        items=[Code(id=code, name=code_name) for code, code_name in codes],
    )


def codelists(settings: SdmxSettings, data: SdmxInput) -> dict:
    """The code lists, by concept id."""
    flag_codes = [(status, meaning) for _, meaning, status in data.flags]
    units = sorted({unit_code(u): u for _, _, u in data.indicators}.items())
    areas = [
        *data.participants,
        ALL_PARTICIPANTS,
        *((f"{PEER_PREFIX}{g.upper()}", f"Peer group {g}") for g in data.peer_groups),
    ]
    return {
        "REF_AREA": _codelist(settings, "CL_AREA", "Participants and groups of them", areas),
        "INDICATOR": _codelist(
            settings, "CL_INDICATOR", "Indicators", [(c, n) for c, n, _ in data.indicators]
        ),
        "STATISTIC": _codelist(
            settings, "CL_STATISTIC", "Benchmark statistics", list(STATISTICS.values())
        ),
        "OBS_STATUS": _codelist(
            settings,
            "CL_OBS_STATUS",
            "Observation status",
            [NORMAL_STATUS, *flag_codes, OTHER_MISSING_STATUS],
        ),
        "CONF_STATUS": _codelist(settings, "CL_CONF_STATUS", "Confidentiality status", CONF_STATUS),
        "UNIT_MEASURE": _codelist(
            settings, "CL_UNIT_MEASURE", "Units of measure", [*units, PARTICIPANTS_UNIT]
        ),
    }


CONCEPTS = {
    "REF_AREA": "Reference area: a participant, or a group of participants",
    "TIME_PERIOD": "Collection year",
    "INDICATOR": "Indicator",
    "STATISTIC": "Benchmark statistic",
    "OBS_VALUE": "Observation value",
    "OBS_STATUS": "Observation status",
    "CONF_STATUS": "Confidentiality status",
    "UNIT_MEASURE": "Unit of measure",
    "UNIT_MULT": "Unit multiplier (power of ten)",
    "COMMENT_OBS": "Comment on the observation (the footnote)",
}


def structures(settings: SdmxSettings, data: SdmxInput) -> list:
    """Code lists, concept scheme, the two data structure definitions and their dataflows."""
    from pysdmx.model import (
        Component,
        Components,
        Concept,
        ConceptScheme,
        Dataflow,
        DataStructureDefinition,
        DataType,
        Role,
    )

    lists = codelists(settings, data)
    dtypes = {
        "OBS_VALUE": DataType.DOUBLE,
        "UNIT_MULT": DataType.INTEGER,
        "TIME_PERIOD": DataType.YEAR,
    }
    concepts = {
        cid: Concept(
            id=cid,
            name=name,
            dtype=dtypes.get(cid, DataType.STRING),
            urn=f"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept="
            f"{settings.agency_id}:CS_MHBENCH({settings.version}).{cid}",
        )
        for cid, name in CONCEPTS.items()
    }
    scheme = ConceptScheme(
        id="CS_MHBENCH",
        name="mhbench concepts",
        agency=settings.agency_id,
        version=settings.version,
        items=list(concepts.values()),
    )

    def component(cid: str, role, required: bool = True):
        return Component(
            id=cid,
            required=required,
            role=role,
            concept=concepts[cid],
            local_dtype=dtypes.get(cid, DataType.STRING),
            local_codes=lists.get(cid),
            attachment_level="O" if role == Role.ATTRIBUTE else None,
        )

    attributes = [
        component("OBS_STATUS", Role.ATTRIBUTE),
        component("CONF_STATUS", Role.ATTRIBUTE),
        component("UNIT_MEASURE", Role.ATTRIBUTE),
        component("UNIT_MULT", Role.ATTRIBUTE),
        component("COMMENT_OBS", Role.ATTRIBUTE, required=False),
    ]
    measure = component("OBS_VALUE", Role.MEASURE, required=False)

    def dsd(dsd_id: str, name: str, dimensions: list[str]):
        return DataStructureDefinition(
            id=dsd_id,
            name=name,
            agency=settings.agency_id,
            version=settings.version,
            components=Components(
                [*(component(d, Role.DIMENSION) for d in dimensions), measure, *attributes]
            ),
        )

    values_dsd = dsd(
        "DSD_INDICATOR_VALUES",
        "Indicator values per participant and year",
        ["REF_AREA", "INDICATOR", "TIME_PERIOD"],
    )
    benchmarks_dsd = dsd(
        "DSD_BENCHMARKS",
        "Benchmark statistics per indicator and year",
        ["REF_AREA", "INDICATOR", "STATISTIC", "TIME_PERIOD"],
    )
    flows = [
        Dataflow(
            id=flow,
            name=name,
            agency=settings.agency_id,
            version=settings.version,
            structure=structure.short_urn,
        )
        for flow, name, structure in (
            (INDICATOR_VALUES_FLOW, "mhbench indicator values", values_dsd),
            (BENCHMARKS_FLOW, "mhbench benchmarks", benchmarks_dsd),
        )
    ]
    return [*lists.values(), scheme, values_dsd, benchmarks_dsd, *flows]


def flow_schema(settings: SdmxSettings, flow: str, dsd):
    """The schema a dataflow's data is written (and read back) with."""
    from pysdmx.model import Schema

    return Schema(
        context="dataflow",
        agency=settings.agency_id,
        id=flow,
        version=settings.version,
        components=dsd.components,
    )


# -- data ---------------------------------------------------------------------------------


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def indicator_value_rows(data: SdmxInput) -> list[dict]:
    flag_status = {flag: status for flag, _, status in data.flags}
    units = {code: unit_code(unit) for code, _, unit in data.indicators}
    return [
        {
            "REF_AREA": v["participant_code"],
            "TIME_PERIOD": str(v["collection_year"]),
            "INDICATOR": v["indicator_code"],
            "OBS_VALUE": None if v["suppressed"] else _number(v["value"]),
            "OBS_STATUS": obs_status(v["flags"], v["null_reason"], flag_status),
            "CONF_STATUS": "C" if v["suppressed"] else "F",
            "UNIT_MEASURE": units[v["indicator_code"]],
            "UNIT_MULT": 0,
            "COMMENT_OBS": v["footnote"],
        }
        for v in data.values
    ]


def benchmark_rows(data: SdmxInput) -> list[dict]:
    units = {code: unit_code(unit) for code, _, unit in data.indicators}
    rows = []
    for b in data.benchmarks:
        for column, (statistic, _) in STATISTICS.items():
            value = b[column]
            rows.append(
                {
                    "REF_AREA": b["area"],
                    "TIME_PERIOD": str(b["collection_year"]),
                    "INDICATOR": b["indicator_code"],
                    "STATISTIC": statistic,
                    "OBS_VALUE": _number(value),
                    "OBS_STATUS": NORMAL_STATUS[0] if value is not None else "O",
                    "CONF_STATUS": "F",
                    "UNIT_MEASURE": PARTICIPANTS_UNIT[0]
                    if column == "n"
                    else units[b["indicator_code"]],
                    "UNIT_MULT": 0,
                    "COMMENT_OBS": None,
                }
            )
    return rows


def _write_csv(schema, rows: list[dict], path: Path) -> None:
    import pandas as pd
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    frame = pd.DataFrame(rows, columns=[c.id for c in schema.components])
    write([PandasDataset(structure=schema, data=frame)], output_path=path)


def write_sdmx(release_db: Path, flags: list[Flag], folder: Path, settings: SdmxSettings) -> dict:
    """Write the SDMX files of a release into `folder`; returns observations per data file."""
    from pysdmx.io.format import Format
    from pysdmx.io.writer import write_sdmx as pysdmx_write

    data = read_release(release_db, flags)
    folder.mkdir(parents=True, exist_ok=True)
    artefacts = structures(settings, data)
    pysdmx_write(
        artefacts,
        Format.STRUCTURE_SDMX_ML_3_0,
        output_path=str(folder / STRUCTURE_FILE),
        prettyprint=True,
    )
    dsds = {a.id: a for a in artefacts if type(a).__name__ == "DataStructureDefinition"}
    values = indicator_value_rows(data)
    _write_csv(
        flow_schema(settings, INDICATOR_VALUES_FLOW, dsds["DSD_INDICATOR_VALUES"]),
        values,
        folder / INDICATOR_VALUES_FILE,
    )
    benchmarks = benchmark_rows(data)
    _write_csv(
        flow_schema(settings, BENCHMARKS_FLOW, dsds["DSD_BENCHMARKS"]),
        benchmarks,
        folder / BENCHMARKS_FILE,
    )
    return {INDICATOR_VALUES_FILE: len(values), BENCHMARKS_FILE: len(benchmarks)}
