"""Sample returns: a realistic, deterministic inbox for demos and tests.

`generate_sample` writes one return per participant and collection year into
`inbox/<year>/` (`SE_2024.xlsx`, `GB-NIR_2021.csv`, ...). Values are derived from
the population seed and the reference rates in `research/domain.md` (adult acute
beds ~20 per 100,000 aged 18-64, occupancy ~93%, length of stay ~30 days, ...),
scaled by a participant-level propensity (a deterministic random effect) and a
mild year trend, so the benchmark shows a believable spread and believable
trends. Values inside a return are mutually consistent (OBD <= ABD, readmissions
<= discharges, registered nurses <= nursing <= total WTE, community spend <= MH
spend <= health spend, ...), spend is in the participant's own currency, and
Jersey's small services give person/event counts of 1-7 that disclosure control
must suppress.

Determinism: every random draw comes from its own generator seeded with
`seed|participant|name[|year]`, so a value does not depend on which other
participants or years are generated, and the same seed gives byte-identical
files (the template writer fixes workbook properties and zip timestamps).

Flags exercised by the good returns (see `_FLAG_RULES`): NA (Ireland has no
community treatment orders; Jersey has no CYP inpatient unit), NK, E, P,
one D (Australia counts readmissions within 28 days, with a comment) and
one B (Scotland's bed count changes method in 2022).

Two returns are deliberately bad, and `SampleSummary.bad` lists them:

- structural (must be rejected by structural validation): the 2023 return of
  NL (or the first xlsx sender if NL is not generated), an xlsx whose Data
  header `value` is renamed to `amount` and whose AA_LEAVE_DAYS value is the
  text "n/a";
- content (structurally valid, must fail the `readmissions <= discharges`
  rule): the 2022 return of GB-WLS (or the first other participant), where the
  submitter swapped AA_DISCHARGES and AA_READMISSIONS_30D.

Both keep the normal file name, as a real submitter's file would.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.writer.excel import ExcelWriter

from ingestion.dictionary import FLAGS_WITHOUT_VALUE, Dictionary, load_dictionary
from ingestion.records import CSV_HEADER
from ingestion.template import (
    FIXED_TIMESTAMP,
    TEMPLATE_VERSION,
    fiscal_period,
    sorted_items,
    write_return_workbook,
)
from runtime.home import Home

BASE_YEAR = 2019  # trends are anchored here so a value never depends on `years`
CSV_SHARE = 5  # about one participant in CSV_SHARE sends CSV instead of xlsx

STRUCTURAL_BAD = ("NL", 2023)
STRUCTURAL_BAD_ITEM = "AA_LEAVE_DAYS"
STRUCTURAL_BAD_HEADER = "amount"
CONTENT_BAD = ("GB-WLS", 2022)

# Sections a participant does not provide at all: every item is NA.
_NO_SERVICE: dict[str, tuple[str, str]] = {
    "JE": (
        "cyp_inpatient",
        "No on-island CYP inpatient unit; young people are placed in units in England.",
    ),
}
# Jersey admits young people to its adult ward instead: a higher rate than elsewhere.
_ADULT_WARD_RATE_WITHOUT_CYP_UNIT = 15.0

_COVERAGE_NOTES = {
    "GB-ENG": "NHS-funded services, including independent-sector beds commissioned by the NHS.",
    "IE": "Public (HSE) services only; independent sector excluded.",
    "NL": "Specialist mental health care (GGZ) funded under the Health Insurance Act.",
    "AU": "Public specialised mental health services; private psychiatric hospitals excluded.",
    "CA-ON": "Provincially funded services; physician-billed outpatient psychiatry excluded.",
    "JE": "Government of Jersey Health and Care services; off-island placements in spend only.",
}


@dataclass(frozen=True)
class _FlagRule:
    """A flag a participant sets on an item (in some or all years)."""

    participant: str
    items: tuple[str, ...]
    flag: str
    comment: str | None
    years: tuple[int, ...] | None = None  # None: every year

    def applies(self, participant: str, year: int, item: str) -> bool:
        return (
            participant == self.participant
            and item in self.items
            and (self.years is None or year in self.years)
        )


_FLAG_RULES = (
    _FlagRule(
        "IE",
        ("MHA_CTOS",),
        "NA",
        "The Mental Health Act 2001 has no community treatment orders.",
    ),
    _FlagRule(
        "NO",
        ("AA_DELAYED_DAYS",),
        "NK",
        "Delayed discharge days not recorded nationally before 2021.",
        (2019, 2020),
    ),
    _FlagRule(
        "CA-ON",
        ("AC_BOOKED", "AC_DNAS"),
        "NK",
        "Appointment-level data not available before the 2020 system migration.",
        (2019,),
    ),
    _FlagRule("NZ", ("SAF_PRONE_RESTRAINT",), "NK", "Restraint position not recorded.", (2019,)),
    _FlagRule(
        "SE",
        ("WF_TOTAL_WTE", "WF_NURSING_WTE", "WF_REG_NURSING_WTE"),
        "E",
        "2020 staff census postponed (COVID-19); 2019 census uplifted by budgeted growth.",
        (2020,),
    ),
    _FlagRule(
        "JE",
        ("FIN_COMMUNITY_SPEND", "FIN_INPATIENT_SPEND", "FIN_CAMHS_SPEND"),
        "E",
        "Apportioned from the Health and Care budget; outturn not split by service.",
        (2019, 2020),
    ),
    _FlagRule(
        "GB-SCT",
        ("AC_PEOPLE_IN_CONTACT",),
        "E",
        "Two health boards did not submit; imputed from their previous year.",
        (2019, 2020),
    ),
    _FlagRule(
        "NZ",
        ("FIN_MH_SPEND", "FIN_HEALTH_SPEND"),
        "P",
        "Provisional: accounts for the year ending 30 June 2025 not yet audited.",
        (2024,),
    ),
    _FlagRule(
        "AU",
        ("FIN_MH_SPEND", "FIN_HEALTH_SPEND"),
        "P",
        "Provisional: accounts for the year ending 30 June 2025 not yet audited.",
        (2024,),
    ),
    _FlagRule(
        "AU",
        ("AA_READMISSIONS_30D",),
        "D",
        "Readmissions within 28 days (AIHW national KPI definition); "
        "a 30-day count is not available.",
    ),
    _FlagRule(
        "GB-SCT",
        ("AA_BEDS",),
        "B",
        "From 2022/23 beds are the average open over the year; "
        "earlier years were a 31 March census.",
        (2022,),
    ),
)
# The break in series is real: the new method counts fewer beds from that year on.
_BREAKS: dict[tuple[str, str], tuple[int, float]] = {("GB-SCT", "AA_BEDS"): (2022, 0.9)}


@dataclass(frozen=True)
class BadReturn:
    """A deliberately bad return and what a correct pipeline must make of it."""

    path: Path
    participant_code: str
    year: int
    kind: str  # "structural": rejected at ingestion; "content": fails a content rule
    reason: str


@dataclass(frozen=True)
class SampleSummary:
    files: list[Path]
    bad: list[BadReturn] = field(default_factory=list)
    csv_participants: tuple[str, ...] = ()

    @property
    def good_files(self) -> list[Path]:
        bad = {b.path for b in self.bad}
        return [f for f in self.files if f not in bad]

    def bad_of_kind(self, kind: str) -> list[BadReturn]:
        return [b for b in self.bad if b.kind == kind]


# --------------------------------------------------------------------------- draws


class _Draws:
    """Named random draws for one participant and year.

    Participant-level draws (propensities, typical shares) are the same in every
    year; year-level draws add small wobble. Each draw has its own generator so
    adding a new item never shifts the values of existing ones.
    """

    def __init__(self, seed: int, participant: str, year: int) -> None:
        self.seed = seed
        self.participant = participant
        self.year = year

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(str(k) for k in (self.seed, self.participant, *key)))

    def propensity(self, name: str, sigma: float) -> float:
        """Participant-level multiplier around 1 (log-normal), stable across years."""
        return self._rng("propensity", name).lognormvariate(0.0, sigma)

    def trend(self, name: str, low: float, high: float, wobble: float = 0.02) -> float:
        """Cumulative growth since BASE_YEAR at a participant-specific annual rate."""
        rate = self._rng("trend", name).uniform(low, high)
        noise = self._rng("wobble", name, self.year).lognormvariate(0.0, wobble)
        return (1.0 + rate) ** (self.year - BASE_YEAR) * noise

    def share(self, name: str, low: float, high: float, wobble: float = 0.1) -> float:
        """A ratio typical of the participant, kept in [low, high].

        It wobbles by year with a standard deviation of `wobble` x the range width.
        """
        centre = self._rng("share", name).uniform(low, high)
        value = centre + self._rng("share", name, self.year).gauss(0.0, (high - low) * wobble)
        return min(high, max(low, value))

    def rate(
        self,
        name: str,
        population: float,
        per: float,
        reference: float,
        sigma: float,
        growth: tuple[float, float] = (-0.01, 0.02),
    ) -> float:
        """Population x reference rate x propensity x trend: an expected count."""
        return (
            population * reference / per * self.propensity(name, sigma) * self.trend(name, *growth)
        )


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class _Context:
    """What value generation needs to know about one participant-year."""

    participant: str
    year: int
    population: dict[str, float]  # age band -> population
    ppp: float
    period_days: int
    draws: _Draws


def _inpatient(
    ctx: _Context,
    prefix: str,
    band: str,
    beds_per_100k: float,
    occupancy: tuple[float, float],
    los: tuple[float, float],
) -> dict[str, float]:
    """Beds, bed days and spells of one ward type, consistent by construction.

    ABD = beds x days in the period; OBD is a share of ABD (never above it);
    discharged-spell bed days ~ OBD, and discharges = those bed days / length of stay.
    """
    d = ctx.draws
    beds = d.rate(f"{prefix}_BEDS", ctx.population[band], 1e5, beds_per_100k, 0.25, (-0.02, 0.01))
    since, factor = _BREAKS.get((ctx.participant, f"{prefix}_BEDS"), (9999, 1.0))
    if ctx.year >= since:
        beds *= factor
    beds = round(max(beds, 1.0), 1)
    abd = round(beds * ctx.period_days)
    obd = min(abd, round(abd * d.share(f"{prefix}_OCC", *occupancy)))
    discharge_obd = round(obd * d.share(f"{prefix}_DOBD", 0.92, 1.05))
    discharges = max(1, round(discharge_obd / d.share(f"{prefix}_LOS", *los)))
    admissions = round(discharges * d.share(f"{prefix}_ADM", 0.97, 1.04))
    return {
        f"{prefix}_BEDS": beds,
        f"{prefix}_ABD": abd,
        f"{prefix}_OBD": obd,
        f"{prefix}_DISCHARGE_OBD": discharge_obd,
        f"{prefix}_DISCHARGES": discharges,
        f"{prefix}_ADMISSIONS": admissions,
    }


def _adult_acute(ctx: _Context) -> dict[str, float]:
    d = ctx.draws
    v = _inpatient(ctx, "AA", "18-64", 21.0, (0.87, 0.99), (21.0, 38.0))
    v["AA_LEAVE_DAYS"] = round(v["AA_ABD"] * d.share("AA_LEAVE", 0.04, 0.10))
    v["AA_READMISSIONS_30D"] = round(v["AA_DISCHARGES"] * d.share("AA_READM", 0.07, 0.13))
    v["AA_MHA_ADMISSIONS"] = round(v["AA_ADMISSIONS"] * d.share("AA_MHA", 0.20, 0.50))
    v["AA_DELAYED_DAYS"] = round(v["AA_OBD"] * d.share("AA_DELAY", 0.02, 0.08))
    v["AA_FOLLOWUP_7D"] = round(v["AA_DISCHARGES"] * d.share("AA_FU7", 0.72, 0.95))
    v["AA_GATEKEPT_ADMISSIONS"] = round(v["AA_ADMISSIONS"] * d.share("AA_GATE", 0.80, 0.98))
    return v


def _older_adult(ctx: _Context) -> dict[str, float]:
    v = _inpatient(ctx, "OA", "65+", 22.0, (0.84, 0.96), (53.0, 76.0))
    v["OA_READMISSIONS_30D"] = round(v["OA_DISCHARGES"] * ctx.draws.share("OA_READM", 0.04, 0.09))
    return v


def _cyp_inpatient(ctx: _Context) -> dict[str, float]:
    v = _inpatient(ctx, "CYP", "0-17", 9.0, (0.78, 0.93), (55.0, 100.0))
    no_unit = _NO_SERVICE.get(ctx.participant, ("", ""))[0] == "cyp_inpatient"
    reference = _ADULT_WARD_RATE_WITHOUT_CYP_UNIT if no_unit else 2.0
    v["CYP_ADULT_WARD_ADMISSIONS"] = round(
        ctx.draws.rate("CYP_ADULT_WARD", ctx.population["0-17"], 1e5, reference, 0.4, (-0.06, 0.0))
    )
    return v


def _cyp_community(ctx: _Context) -> dict[str, float]:
    d = ctx.draws
    referrals = round(d.rate("CYPC_REF", ctx.population["0-17"], 1e5, 3000.0, 0.3, (0.02, 0.07)))
    accepted = round(referrals * d.share("CYPC_ACC", 0.60, 0.85))
    seen = round(accepted * d.share("CYPC_SEEN", 0.95, 1.30))
    return {
        "CYPC_REFERRALS": referrals,
        "CYPC_ACCEPTED": accepted,
        "CYPC_CHILDREN_SEEN": seen,
        "CYPC_CASELOAD": round(seen * d.share("CYPC_CASE", 0.45, 0.70)),
        "CYPC_CONTACTS": round(seen * d.share("CYPC_CPP", 5.0, 9.0)),
    }


def _adult_community(ctx: _Context) -> dict[str, float]:
    d = ctx.draws
    people = round(d.rate("AC_PEOPLE", ctx.population["18-64"], 1e5, 3200.0, 0.3, (0.0, 0.03)))
    referrals = round(people * d.share("AC_REF", 1.0, 1.5))
    contacts = round(people * d.share("AC_CPP", 8.0, 14.0))
    dna_rate = d.share("AC_DNA", 0.07, 0.13)
    booked = round(contacts / (1.0 - dna_rate - d.share("AC_CANCEL", 0.03, 0.06)))
    return {
        "AC_PEOPLE_IN_CONTACT": people,
        "AC_REFERRALS": referrals,
        "AC_ACCEPTED": round(referrals * d.share("AC_ACC", 0.70, 0.90)),
        "AC_CASELOAD": round(people * d.share("AC_CASE", 0.45, 0.65)),
        "AC_CONTACTS": contacts,
        "AC_BOOKED": booked,
        "AC_DNAS": round(booked * dna_rate),
    }


def _crisis(ctx: _Context) -> dict[str, float]:
    d = ctx.draws
    pop = ctx.population["all"]
    urgent = round(d.rate("CR_URGENT", pop, 1e5, 240.0, 0.3, (0.0, 0.04)))
    ed = round(d.rate("CR_ED", pop, 1e5, 35000.0, 0.2, (-0.01, 0.02)))
    return {
        "CR_EPISODES": round(d.rate("CR_EPISODES", pop, 1e5, 330.0, 0.35, (0.0, 0.04))),
        "CR_URGENT_REFERRALS": urgent,
        "CR_URGENT_SEEN_4H": round(urgent * d.share("CR_4H", 0.55, 0.92)),
        "CR_ED_ATTENDANCES": ed,
        "CR_LIAISON_ASSESSMENTS": round(ed * d.share("CR_LIAISON", 0.004, 0.012)),
    }


def _mha(ctx: _Context, aa_mha_admissions: float) -> dict[str, float]:
    """Detentions include every detained adult acute admission, and more."""
    d = ctx.draws
    pop = ctx.population["all"]
    detentions = round(d.rate("MHA_DET", pop, 1e5, 85.0, 0.35, (0.0, 0.03)))
    floor = round(aa_mha_admissions * d.share("MHA_DET_FLOOR", 1.3, 1.6))
    return {
        "MHA_DETENTIONS": max(detentions, floor),
        "MHA_S136": round(d.rate("MHA_S136", pop, 1e5, 55.0, 0.4, (-0.02, 0.03))),
        "MHA_CTOS": round(d.rate("MHA_CTOS", pop, 1e5, 12.0, 0.7, (-0.02, 0.02))),
    }


def _safety(ctx: _Context, wards: dict[str, float]) -> dict[str, float]:
    """Incidents scale with bed days on all wards (acute + specialist)."""
    d = ctx.draws
    prefixes = [p for p in ("AA", "OA", "CYP") if f"{p}_OBD" in wards]
    obd = round(sum(wards[f"{p}_OBD"] for p in prefixes) * d.share("SAF_OBD", 1.5, 1.9))
    admissions = sum(wards[f"{p}_ADMISSIONS"] for p in prefixes)
    patients = round(admissions * d.share("SAF_PATIENTS", 0.85, 1.05))
    restraint = round(d.rate("SAF_RESTRAINT", obd, 1e5, 600.0, 0.5, (-0.04, 0.02)))
    return {
        "SAF_OBD": obd,
        "SAF_PATIENTS": patients,
        "SAF_RESTRAINT": restraint,
        "SAF_PRONE_RESTRAINT": round(restraint * d.share("SAF_PRONE", 0.12, 0.30)),
        "SAF_SECLUSION": round(d.rate("SAF_SECLUSION", obd, 1e3, 6.0, 0.5)),
        "SAF_INPATIENT_SUICIDES": round(d.rate("SAF_SUICIDE", patients, 1e4, 6.0, 0.3)),
        "SAF_ASSAULTS": round(d.rate("SAF_ASSAULT", obd, 1e5, 450.0, 0.4)),
    }


def _workforce(ctx: _Context) -> dict[str, float]:
    """Staff groups are parts of the total; vacancies are part of the establishment."""
    d = ctx.draws
    pop = ctx.population["all"]
    psychiatrists = d.rate("WF_PSYCHIATRIST", pop, 1e5, 16.0, 0.3, (0.0, 0.02))
    psychologists = d.rate("WF_PSYCHOLOGIST", pop, 1e5, 10.0, 0.5, (0.0, 0.04))
    total = max(
        d.rate("WF_TOTAL", pop, 1e5, 230.0, 0.25, (0.005, 0.03)),
        (psychiatrists + psychologists) * 2.5,
    )
    nursing = total * d.share("WF_NURSING", 0.35, 0.48)
    registered = nursing * d.share("WF_REGISTERED", 0.55, 0.75)
    funded = total / (1.0 - d.share("WF_VACANCY", 0.05, 0.13))
    total, funded = round(total, 1), round(funded, 1)
    return {
        "WF_TOTAL_WTE": total,
        "WF_PSYCHIATRIST_WTE": round(psychiatrists, 1),
        "WF_NURSING_WTE": round(nursing, 1),
        "WF_REG_NURSING_WTE": round(registered, 1),
        "WF_PSYCHOLOGIST_WTE": round(psychologists, 1),
        "WF_FUNDED_WTE": funded,
        "WF_VACANT_WTE": round(funded - total, 1),
    }


def _finance(ctx: _Context) -> dict[str, float]:
    """Spend per head in international $, converted back to national currency.

    Community + inpatient spend stay below MH spend (the rest is other
    services), and MH spend is a plausible share of health spend.
    """
    d = ctx.draws
    per_head = 400.0 * d.propensity("FIN_PER_HEAD", 0.25) * d.trend("FIN_PER_HEAD", 0.02, 0.05)
    mh = per_head * ctx.population["all"] * ctx.ppp
    community = d.share("FIN_COMMUNITY", 0.40, 0.58)
    inpatient = min(d.share("FIN_INPATIENT", 0.25, 0.36), 0.96 - community)
    return {
        "FIN_MH_SPEND": _thousands(mh),
        "FIN_HEALTH_SPEND": _thousands(mh / d.share("FIN_MH_SHARE", 0.06, 0.13)),
        "FIN_COMMUNITY_SPEND": _thousands(mh * community),
        "FIN_INPATIENT_SPEND": _thousands(mh * inpatient),
        "FIN_CAMHS_SPEND": _thousands(mh * d.share("FIN_CAMHS", 0.06, 0.11)),
    }


def _thousands(amount: float) -> int:
    """Money is reported to the nearest thousand units of national currency."""
    return int(round(amount, -3))


def _values(ctx: _Context) -> dict[str, float]:
    """Every item's value for one participant-year (before flags blank any).

    Items of a service the participant does not provide are absent (they become NA).
    """
    wards = _adult_acute(ctx) | _older_adult(ctx)
    no_service = _NO_SERVICE.get(ctx.participant, ("", ""))[0]
    cyp = _cyp_inpatient(ctx)
    if no_service == "cyp_inpatient":
        cyp = {"CYP_ADULT_WARD_ADMISSIONS": cyp["CYP_ADULT_WARD_ADMISSIONS"]}
    wards |= cyp
    return (
        _finance(ctx)
        | wards
        | _cyp_community(ctx)
        | _adult_community(ctx)
        | _crisis(ctx)
        | _mha(ctx, wards["AA_MHA_ADMISSIONS"])
        | _safety(ctx, wards)
        | _workforce(ctx)
    )


# --------------------------------------------------------------------------- rows


def _row(participant: str, year: int, item: str, values: dict[str, float]) -> dict[str, object]:
    """One Data row: the value, unless a flag says it is not applicable or not known."""
    if item not in values:  # the participant does not provide this service
        why = _NO_SERVICE.get(participant, ("", "No such service."))[1]
        return {"item_code": item, "value": None, "flag": "NA", "comment": why}
    for rule in _FLAG_RULES:
        if rule.applies(participant, year, item):
            value = None if rule.flag in FLAGS_WITHOUT_VALUE else values[item]
            return {"item_code": item, "value": value, "flag": rule.flag, "comment": rule.comment}
    return {"item_code": item, "value": values[item], "flag": None, "comment": None}


def build_rows(
    participant: str, year: int, values: dict[str, float], dictionary: Dictionary
) -> list[dict[str, object]]:
    """Data rows in template order, with the sample's flags applied."""
    return [_row(participant, year, item.item_code, values) for item in sorted_items(dictionary)]


def _context(seed: int, participant: str, year: int, dictionary: Dictionary) -> _Context:
    try:
        population = {
            band: dictionary.population[(participant, year, band)]
            for band in ("0-17", "18-64", "65+", "all")
        }
        ppp = dictionary.ppp[(participant, year)]
    except KeyError as missing:
        raise ValueError(
            f"no population or PPP for {participant} {year} in the seeds ({missing})"
        ) from None
    start_month = dictionary.participants[participant].fiscal_year_start_month
    start, end = fiscal_period(year, start_month)
    return _Context(
        participant, year, population, ppp, (end - start).days + 1, _Draws(seed, participant, year)
    )


def sample_values(
    participant: str, year: int, seed: int = 2024, dictionary: Dictionary | None = None
) -> dict[str, float]:
    """The good values of one participant-year, as a good return holds them before flags.

    Useful to compare what was sent with what the pipeline stored.
    """
    dictionary = dictionary if dictionary is not None else load_dictionary()
    return _values(_context(seed, participant, year, dictionary))


def about_block(participant: str, year: int, dictionary: Dictionary) -> dict[str, object]:
    """The About sheet: the participant's own fiscal year and currency."""
    p = dictionary.participants[participant]
    start, end = fiscal_period(year, p.fiscal_year_start_month)
    return {
        "participant_code": participant,
        "participant_name": p.participant_name,
        "collection_year": year,
        "period_start": start,
        "period_end": end,
        "currency": p.currency,
        "template_version": TEMPLATE_VERSION,
        "coverage_note": _COVERAGE_NOTES.get(participant),
    }


# --------------------------------------------------------------------------- files


def csv_senders(participants: Iterable[str]) -> tuple[str, ...]:
    """About one in CSV_SHARE participants sends CSV; the choice depends only on codes."""
    codes = sorted(participants)
    count = max(1, round(len(codes) / CSV_SHARE)) if len(codes) > 1 else 0
    ranked = sorted(codes, key=lambda c: hashlib.sha256(f"csv-sender:{c}".encode()).hexdigest())
    return tuple(sorted(ranked[:count]))


def _format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_return_csv(path: Path, participant: str, year: int, rows: list[dict]) -> Path:
    """A return in CSV format v1 (UTF-8, header row, one line per item)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                participant,
                year,
                row["item_code"],
                _format_value(row["value"]),
                row["flag"] or "",
                row["comment"] or "",
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _save_reproducibly(wb: openpyxl.Workbook, path: Path) -> None:
    """Save with fixed zip timestamps, like the template writer, so reruns are identical."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()  # not wb.save(): that stamps `modified` with now()
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    path.write_bytes(fixed.getvalue())


def _break_structure(path: Path, rows: list[dict]) -> str:
    """Rename the Data value header and put text in a number cell; say where."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Data"]
    ws["D1"].value = STRUCTURAL_BAD_HEADER
    row = next(i for i, r in enumerate(rows, start=2) if r["item_code"] == STRUCTURAL_BAD_ITEM)
    ws.cell(row=row, column=4).value = "n/a"
    _save_reproducibly(wb, path)
    return (
        f"Data!D1 header 'value' renamed to '{STRUCTURAL_BAD_HEADER}'; "
        f"Data!D{row} ({STRUCTURAL_BAD_ITEM}) holds the text 'n/a' instead of a number"
    )


def _break_content(values: dict[str, float]) -> str:
    """Swap discharges and readmissions, a classic copy-paste slip."""
    discharges, readmissions = values["AA_DISCHARGES"], values["AA_READMISSIONS_30D"]
    values["AA_DISCHARGES"], values["AA_READMISSIONS_30D"] = readmissions, discharges
    return (
        f"AA_DISCHARGES ({readmissions}) and AA_READMISSIONS_30D ({discharges}) swapped: "
        "readmissions exceed discharges"
    )


def _pick_bad(
    participants: list[str], xlsx: list[str], years: list[int]
) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """Where the two bad returns go, preferring the documented participant-years."""
    structural = None
    if xlsx and years:
        year = STRUCTURAL_BAD[1] if STRUCTURAL_BAD[1] in years else max(years)
        structural = (STRUCTURAL_BAD[0] if STRUCTURAL_BAD[0] in xlsx else xlsx[0], year)
    content = None
    if years:
        year = CONTENT_BAD[1] if CONTENT_BAD[1] in years else min(years)
        others = [p for p in participants if (p, year) != structural]
        if others:
            content = (CONTENT_BAD[0] if CONTENT_BAD[0] in others else others[0], year)
    return structural, content


def generate_sample(
    home: Home,
    seed: int = 2024,
    years: range = range(2019, 2025),
    participants: list[str] | None = None,
    *,
    include_bad: bool = True,
    dictionary: Dictionary | None = None,
) -> SampleSummary:
    """Write one return per participant and year into `home.inbox_year(year)`.

    include_bad=False gives an all-good inbox (a clean demo); the default plants the
    two bad returns described in the module docstring. Existing files with the same
    names are overwritten; nothing else is touched.
    """
    dictionary = dictionary if dictionary is not None else load_dictionary()
    codes = sorted(participants) if participants is not None else sorted(dictionary.participants)
    unknown = [c for c in codes if c not in dictionary.participants]
    if unknown:
        raise ValueError(f"unknown participant(s): {', '.join(unknown)}")
    csv_codes = csv_senders(codes)
    year_list = list(years)
    structural, content = (
        _pick_bad(codes, [c for c in codes if c not in csv_codes], year_list)
        if include_bad
        else (None, None)
    )

    files: list[Path] = []
    bad: list[BadReturn] = []
    for year in year_list:
        for code in codes:
            values = _values(_context(seed, code, year, dictionary))
            reason = _break_content(values) if (code, year) == content else None
            rows = build_rows(code, year, values, dictionary)
            suffix = "csv" if code in csv_codes else "xlsx"
            path = home.inbox_year(year) / f"{code}_{year}.{suffix}"
            if suffix == "csv":
                write_return_csv(path, code, year, rows)
            else:
                write_return_workbook(path, about_block(code, year, dictionary), rows, dictionary)
            if (code, year) == structural:
                bad.append(BadReturn(path, code, year, "structural", _break_structure(path, rows)))
            if reason:
                bad.append(BadReturn(path, code, year, "content", reason))
            files.append(path)
    return SampleSummary(files=files, bad=bad, csv_participants=csv_codes)
