"""The flags seed (dbt_project/seeds/flags.csv) as ingestion reads it.

The flags are a contract with submitters (DESIGN.md, "The return") and with partner
agencies (SDMX OBS_STATUS): the expected values are written out here, not taken from the
code or the seed under test, so a change to the seed must fail here and be made on purpose.
"""

from __future__ import annotations

import pytest

from ingestion.dictionary import FLAGS, FLAGS_WITHOUT_VALUE, load_flags

# flag: (meaning, value_rule, SDMX CL_OBS_STATUS, comparability caveat)
EXPECTED = {
    "NA": ("not applicable", "must_be_blank", "M", False),
    "NK": ("not known", "must_be_blank", "L", False),
    "E": ("estimated", "required", "E", False),
    "P": ("provisional", "required", "P", False),
    "B": ("break in series", "required", "B", True),
    "D": ("definition differs from the dictionary", "required", "D", True),
}


def test_flag_codes_in_drop_down_order():
    assert FLAGS == ("NA", "NK", "E", "P", "B", "D")
    assert list(load_flags()) == ["NA", "NK", "E", "P", "B", "D"]


def test_flags_without_value_are_na_and_nk():
    assert FLAGS_WITHOUT_VALUE == ("NA", "NK")
    assert [f.flag for f in load_flags().values() if not f.has_value] == ["NA", "NK"]


@pytest.mark.parametrize("code", list(EXPECTED))
def test_each_flag_as_the_contract_says(code):
    flag = load_flags()[code]
    meaning, value_rule, sdmx, caveat = EXPECTED[code]
    assert flag.flag == code
    assert flag.meaning == meaning
    assert flag.value_rule == value_rule
    assert flag.has_value is (value_rule == "required")
    assert flag.sdmx_obs_status == sdmx
    assert flag.comparability_caveat is caveat
    assert flag.description.strip()


def test_a_value_rule_outside_the_two_is_refused(tmp_path):
    (tmp_path / "flags.csv").write_text(
        "flag,meaning,value_rule,sdmx_obs_status,comparability_caveat,description\n"
        "X,odd,sometimes,M,false,An unknown rule\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="value_rule 'sometimes'"):
        load_flags(tmp_path)
