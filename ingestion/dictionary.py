"""Reference data read from the dbt seeds, the single source of truth.

Ingestion, the template writer and the sample generator need the dictionary
before dbt has run, so they read the seed CSVs directly (cheap, no dbt import).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"

AGE_BANDS = ("0-17", "18-64", "65+", "all")
REQUIRED = "required"
MUST_BE_BLANK = "must_be_blank"


@dataclass(frozen=True)
class DataItem:
    item_code: str
    section: str
    item_name: str
    unit: str
    age_band: str
    is_person_count: bool
    mandatory: bool
    lower_bound: float | None
    upper_bound: float | None
    definition: str


@dataclass(frozen=True)
class Indicator:
    indicator_code: str
    section: str
    indicator_name: str
    numerator_item: str
    denominator_item: str | None
    denominator_population_band: str | None
    multiplier: float
    unit_label: str
    higher_is_better: bool | None
    uses_ppp: bool
    definition: str


@dataclass(frozen=True)
class Participant:
    participant_code: str
    participant_name: str
    currency: str
    fiscal_year_start_month: int
    peer_group: str


@dataclass(frozen=True)
class Flag:
    """An observation flag a submitter may set on a value (seed `flags`)."""

    flag: str
    meaning: str  # a few words, shown to submitters: "not applicable"
    value_rule: str  # REQUIRED or MUST_BE_BLANK
    sdmx_obs_status: str  # SDMX CL_OBS_STATUS code for exports
    comparability_caveat: bool  # D, B: not comparable as is; E, P are quality caveats
    description: str

    @property
    def has_value(self) -> bool:
        """Whether a value must come with the flag (otherwise the value must be blank)."""
        return self.value_rule == REQUIRED


def _rows(name: str, seeds_dir: Path) -> list[dict[str, str]]:
    with (seeds_dir / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _bool(text: str) -> bool | None:
    text = text.strip().lower()
    if text == "":
        return None
    return text in ("true", "1", "yes", "y")


def _float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


@dataclass(frozen=True)
class Dictionary:
    items: dict[str, DataItem]
    indicators: dict[str, Indicator]
    participants: dict[str, Participant]
    population: dict[tuple[str, int, str], float]
    ppp: dict[tuple[str, int], float]

    @property
    def years(self) -> list[int]:
        return sorted({year for (_, year, _) in self.population})


@cache
def load_dictionary(seeds_dir: Path = SEEDS_DIR) -> Dictionary:
    items = {
        r["item_code"]: DataItem(
            item_code=r["item_code"],
            section=r["section"],
            item_name=r["item_name"],
            unit=r["unit"],
            age_band=r["age_band"],
            is_person_count=bool(_bool(r["is_person_count"])),
            mandatory=bool(_bool(r["mandatory"])),
            lower_bound=_float(r["lower_bound"]),
            upper_bound=_float(r["upper_bound"]),
            definition=r["definition"],
        )
        for r in _rows("data_items", seeds_dir)
    }
    indicators = {
        r["indicator_code"]: Indicator(
            indicator_code=r["indicator_code"],
            section=r["section"],
            indicator_name=r["indicator_name"],
            numerator_item=r["numerator_item"],
            denominator_item=r["denominator_item"] or None,
            denominator_population_band=r["denominator_population_band"] or None,
            multiplier=float(r["multiplier"]),
            unit_label=r["unit_label"],
            higher_is_better=_bool(r["higher_is_better"]),
            uses_ppp=bool(_bool(r["uses_ppp"])),
            definition=r["definition"],
        )
        for r in _rows("indicators", seeds_dir)
    }
    participants = {
        r["participant_code"]: Participant(
            participant_code=r["participant_code"],
            participant_name=r["participant_name"],
            currency=r["currency"],
            fiscal_year_start_month=int(r["fiscal_year_start_month"]),
            peer_group=r["peer_group"],
        )
        for r in _rows("participants", seeds_dir)
    }
    population = {
        (r["participant_code"], int(r["year"]), r["age_band"]): float(r["population"])
        for r in _rows("population", seeds_dir)
    }
    ppp = {
        (r["participant_code"], int(r["year"])): float(r["ppp_per_usd"])
        for r in _rows("ppp", seeds_dir)
    }
    return Dictionary(items, indicators, participants, population, ppp)


@cache
def load_flags(seeds_dir: Path = SEEDS_DIR) -> dict[str, Flag]:
    """The flags of seed `flags`, by code, in the seed's order (the template's drop-down)."""
    flags = {}
    for r in _rows("flags", seeds_dir):
        if r["value_rule"] not in (REQUIRED, MUST_BE_BLANK):
            raise ValueError(
                f"flags.csv: flag {r['flag']!r} has value_rule {r['value_rule']!r}, "
                f"expected {REQUIRED} or {MUST_BE_BLANK}"
            )
        flags[r["flag"]] = Flag(
            flag=r["flag"],
            meaning=r["meaning"],
            value_rule=r["value_rule"],
            sdmx_obs_status=r["sdmx_obs_status"],
            comparability_caveat=bool(_bool(r["comparability_caveat"])),
            description=r["description"],
        )
    return flags


# The flag codes, and those that say there is no value (NA, NK), as read from the seed.
FLAGS: tuple[str, ...] = tuple(load_flags())
FLAGS_WITHOUT_VALUE: tuple[str, ...] = tuple(
    code for code, flag in load_flags().items() if not flag.has_value
)
