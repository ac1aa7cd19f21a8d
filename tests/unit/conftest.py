"""A small hand-made dictionary for the reader and structure tests: four items, two
participants, so their expectations do not move when the real seeds change."""

from __future__ import annotations

import pytest

from ingestion.dictionary import Dictionary, load_dictionary

SEEDS = {
    "data_items": (
        "item_code,section,item_name,unit,age_band,is_person_count,mandatory,"
        "lower_bound,upper_bound,definition\n"
        "BEDS_TOTAL,beds,Psychiatric beds,beds,all,false,true,0,,Beds at year end\n"
        "ADM_TOTAL,activity,Admissions,count,all,true,true,0,,Admissions in the year\n"
        "SPEND_TOTAL,spend,Spend,currency,all,false,false,0,,Spend in the year\n"
        "STAFF_WTE,staff,Staff,WTE,all,false,false,0,,Staff at year end\n"
    ),
    "indicators": (
        "indicator_code,section,indicator_name,numerator_item,denominator_item,"
        "denominator_population_band,multiplier,unit_label,higher_is_better,uses_ppp,definition\n"
    ),
    "participants": (
        "participant_code,participant_name,currency,fiscal_year_start_month,peer_group\n"
        "SE,Sweden,SEK,1,nordic\n"
        "GB-ENG,England,GBP,4,uk\n"
    ),
    "population": "participant_code,year,age_band,population\n",
    "ppp": "participant_code,year,ppp_per_usd\n",
}


@pytest.fixture(scope="module")
def dictionary(tmp_path_factory: pytest.TempPathFactory) -> Dictionary:
    seeds = tmp_path_factory.mktemp("seeds")
    for name, text in SEEDS.items():
        (seeds / f"{name}.csv").write_text(text, encoding="utf-8")
    return load_dictionary(seeds)
