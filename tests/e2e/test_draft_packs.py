"""Draft packs written half by a process of their own (reporting/packs_process.py): the same
pages as when the release step writes them all, and a helper that dies fails the release.

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
from runtime.home import Home
from runtime.module_process import ProcessFailed

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("collection_workflow")]

# the render time in the page's generator tag is the one thing two renders differ in
_ELAPSED = re.compile(r"indicators, [0-9.]+s\)")


def _packs(cycle, tmp_path, name: str, helper_from: int, monkeypatch) -> dict[str, str]:
    [draft] = list_releases(Home(cycle.home), drafts=True)
    monkeypatch.setattr(publish, "PACKS_FOR_A_HELPER", helper_from)
    packs = DraftPacks(
        Home(tmp_path / name), draft.manifest["participant_years"], ChartCache(tmp_path / "c")
    )
    packs.start(draft.path, draft.manifest)
    helped = packs._helper is not None
    packs.render(draft.path, draft.manifest)
    delivered = packs.deliver()
    assert helped is (helper_from <= len(delivered))
    return {p.name: _ELAPSED.sub("", p.read_text(encoding="utf-8")) for p in delivered}


def test_packs_shared_with_a_helper_process_are_the_packs_written_alone(
    cycle, tmp_path, monkeypatch
):
    alone = _packs(cycle, tmp_path, "alone", 1000, monkeypatch)
    shared = _packs(cycle, tmp_path, "shared", 2, monkeypatch)
    assert len(alone) == 12 and sorted(shared) == sorted(alone)
    for name, page in alone.items():
        assert shared[name] == page, name
    assert "Sweden" in shared[next(n for n in shared if n.startswith("SE_"))]


def test_a_helper_that_dies_fails_the_packs_with_what_happened(cycle, tmp_path, monkeypatch):
    [draft] = list_releases(Home(cycle.home), drafts=True)
    monkeypatch.setattr(publish, "PACKS_FOR_A_HELPER", 2)
    packs = DraftPacks(Home(tmp_path / "h"), draft.manifest["participant_years"])
    packs.start(draft.path, draft.manifest)
    packs._helper.process.kill()
    with pytest.raises(ProcessFailed, match=r"writing 6 draft pack\(s\) failed"):
        packs.render(draft.path, draft.manifest)
    assert packs._helper is None  # stopped, its files let go
