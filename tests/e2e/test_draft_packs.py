"""Draft packs shared with a process of their own (reporting/packs_process.py): the same
pages as when the release step writes them all, each written once, and a helper that dies
fails the release.

On the session's draft release (12 participants, under PACKS_FOR_A_HELPER): the threshold is
lowered here so that its packs are shared, as 50 participants' are.
"""

from __future__ import annotations

import re

import pytest

from orchestration.defs import publish
from orchestration.defs.publish import DraftPacks
from publishing.store import list_releases
from reporting.chart_cache import ChartCache
from reporting.packs_process import pack_claims
from runtime.home import Home
from runtime.module_process import ProcessFailed

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("collection_workflow")]

# the render time in the page's generator tag is the one thing two renders differ in
_ELAPSED = re.compile(r"indicators, [0-9.]+s\)")


def _packs(cycle, tmp_path, name: str, helper_from: int, monkeypatch, helper_first=False):
    [draft] = list_releases(Home(cycle.home), drafts=True)
    monkeypatch.setattr(publish, "PACKS_FOR_A_HELPER", helper_from)
    packs = DraftPacks(
        Home(tmp_path / name), draft.manifest["participant_years"], ChartCache(tmp_path / "c")
    )
    packs.start(draft.path, draft.manifest)
    if helper_first:  # as when the release step is still writing the report meanwhile
        packs._helper.process.wait()
    packs.render(draft.path, draft.manifest)
    delivered = packs.deliver()
    assert len(delivered) == len({p.name for p in delivered}), "each pack written once"
    pages = {p.name: _ELAPSED.sub("", p.read_text(encoding="utf-8")) for p in delivered}
    return pages, packs.by_helper


def test_packs_shared_with_a_helper_process_are_the_packs_written_alone(
    cycle, tmp_path, monkeypatch
):
    alone, by_helper = _packs(cycle, tmp_path, "alone", 1000, monkeypatch)
    assert len(alone) == 12 and by_helper == 0
    for helper_first in (True, False):
        shared, by_helper = _packs(
            cycle, tmp_path, f"s{helper_first}", 2, monkeypatch, helper_first
        )
        # the helper claimed every pack while the release step was busy; or they shared them
        assert (by_helper == 12) if helper_first else (0 <= by_helper <= 12)
        assert sorted(shared) == sorted(alone)
        for name, page in alone.items():
            assert shared[name] == page, name
    assert "Sweden" in shared[next(n for n in shared if n.startswith("SE_"))]


def test_two_claimers_of_a_pack_get_it_once(tmp_path):
    first, second = pack_claims(tmp_path / "packs"), pack_claims(tmp_path / "packs")
    assert first("SE") and not second("SE") and not first("SE")
    assert second("NO") and not first("NO")


def test_a_helper_that_dies_fails_the_packs_with_what_happened(cycle, tmp_path, monkeypatch):
    [draft] = list_releases(Home(cycle.home), drafts=True)
    monkeypatch.setattr(publish, "PACKS_FOR_A_HELPER", 2)
    packs = DraftPacks(Home(tmp_path / "h"), draft.manifest["participant_years"])
    packs.start(draft.path, draft.manifest)
    packs._helper.process.kill()
    with pytest.raises(ProcessFailed, match=r"writing draft packs of 12 participant\(s\) failed"):
        packs.render(draft.path, draft.manifest)
    assert packs._helper is None  # stopped, its files let go
