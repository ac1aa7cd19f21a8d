"""What changed between two releases: indicator values added, removed and changed.

Both release databases are attached read-only to an in-memory DuckDB and compared on
the grain of `marts.fct_indicator_values` (participant × year × indicator). A value
counts as changed when it differs at all (`is distinct from`: a value that became
suppressed, i.e. null, is a change too). `mhbench diff` prints them; `COLUMNS` are the
fields of `Change`, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from publishing.store import resolve_release
from runtime.home import Home

ChangeKind = Literal["added", "removed", "changed"]
COLUMNS = ("change", "participant_code", "collection_year", "indicator_code", "old", "new")

DIFF_QUERY = """
select
  case when o.indicator_code is null then 'added'
       when n.indicator_code is null then 'removed'
       else 'changed' end as change,
  coalesce(n.participant_code, o.participant_code) as participant_code,
  coalesce(n.collection_year, o.collection_year) as collection_year,
  coalesce(n.indicator_code, o.indicator_code) as indicator_code,
  o.value::double as old,
  n.value::double as new
from old_release.marts.fct_indicator_values o
full outer join new_release.marts.fct_indicator_values n
  on o.participant_code = n.participant_code
 and o.collection_year = n.collection_year
 and o.indicator_code = n.indicator_code
where o.indicator_code is null or n.indicator_code is null or o.value is distinct from n.value
order by participant_code, collection_year, indicator_code
"""


@dataclass(frozen=True)
class Change:
    change: ChangeKind
    participant_code: str
    collection_year: int
    indicator_code: str
    old: float | None
    new: float | None


def diff_releases(home: Home, a: str, b: str) -> list[Change]:
    """Indicator values that differ from release `a` (old) to release `b` (new).

    `a` and `b` are release ids, `current` or `previous`.
    """
    import duckdb

    old, new = resolve_release(home, a), resolve_release(home, b)
    with duckdb.connect() as con:
        con.execute(f"attach '{old.database}' as old_release (read_only)")
        con.execute(f"attach '{new.database}' as new_release (read_only)")
        rows = con.execute(DIFF_QUERY).fetchall()
    return [Change(*row) for row in rows]
