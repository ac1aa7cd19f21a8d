"""The "Lines of enquiry" section of a participant's report, read from mart_lines_of_enquiry.

The top differences are the participant's first rows by the mart's own order (enquiry_rank,
the score documented in the mart), the top changes its first rows with an unusual change in
the same order: nothing is scored here. Each comes with its sentence
(reporting/enquiry_sentences.py), its caveats and its peers. A release made before the mart
existed has no such section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reporting.enquiry_sentences import Wording, change_sentence, difference_sentence

ENQUIRY_MART = "mart_lines_of_enquiry"
TOP_DIFFERENCES = 5
TOP_CHANGES = 3


@dataclass
class Enquiries:
    differences: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    n_enquiries: int = 0  # rows of the participant and year with is_enquiry
    n_rows: int = 0


def load_enquiries(
    con, participant: str, year: int, names: dict[str, str], indicators: dict[str, dict]
) -> Enquiries:
    """The participant's lines of enquiry of `year`, worded (con: the release, read-only)."""
    cursor = con.execute(
        f"select * from marts.{ENQUIRY_MART} where participant_code = ? and collection_year = ? "
        "order by enquiry_rank",
        [participant, year],
    )
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    found = Enquiries(n_enquiries=sum(1 for r in rows if r["is_enquiry"]), n_rows=len(rows))
    for row in rows[:TOP_DIFFERENCES]:
        found.differences.append(_item(row, participant, names, indicators, difference_sentence))
    unusual = [r for r in rows if r["change_unusual"] and r["change_pct"] is not None]
    for row in unusual[:TOP_CHANGES]:
        found.changes.append(_item(row, participant, names, indicators, change_sentence))
    return found


def _item(row: dict, participant: str, names: dict, indicators: dict, sentence) -> dict:
    indicator = indicators.get(row["indicator_code"], {})
    peers = [
        {
            "name": names.get(p["participant_code"], p["participant_code"]),
            "code": p["participant_code"],
            "value": p["value"],
            "position": f"{p['rank']} of {p['n']}",
            "same_peer_group": p["same_peer_group"],
        }
        for p in row["peers"]
    ]
    wording = Wording(
        participant_name=names.get(participant, participant),
        indicator_name=indicator.get("indicator_name") or row["indicator_code"],
        unit_label=indicator.get("unit_label") or "",
        higher_is_better=indicator.get("higher_is_better"),
        peer_names=[p["name"] for p in peers],
    )
    return {
        "code": row["indicator_code"],
        "name": wording.indicator_name,
        "sentence": sentence(row, wording),
        "direction": row["direction"],
        "distance_iqr": row["distance_iqr"],
        "change_pct": row["change_pct"],
        "score": row["score"],
        "caveats": list(row["caveats"]),
        "peers": peers,
        "group_basis": row["group_basis"],
    }


def top_enquiries_preview(con, per_participant: int = 3) -> tuple[int | None, list[dict]]:
    """The latest year of the mart and each participant's first enquiries of that year
    (is_enquiry, by enquiry_rank), highest score first: rows for a markdown preview."""
    year = con.execute(f"select max(collection_year) from marts.{ENQUIRY_MART}").fetchone()[0]
    if year is None:
        return None, []
    cursor = con.execute(
        "select participant_code, indicator_code, direction, distance_iqr, change_pct, "
        "change_unusual, len(caveats) as caveats, "
        "array_to_string(list_transform(peers, lambda p: p.participant_code), ', ') as peers, "
        f"score from marts.{ENQUIRY_MART} "
        "where collection_year = ? and is_enquiry and enquiry_rank <= ? "
        "order by score desc, participant_code, indicator_code",
        [year, per_participant],
    )
    columns = [d[0] for d in cursor.description]
    rows = []
    for r in cursor.fetchall():
        row = dict(zip(columns, r, strict=True))
        rows.append(
            {
                "participant": row["participant_code"],
                "indicator": row["indicator_code"],
                "direction": row["direction"],
                "IQRs from median": _rounded(row["distance_iqr"], 1),
                "change %": _rounded(row["change_pct"], 1),
                "unusual change": "yes" if row["change_unusual"] else "",
                "caveats": row["caveats"],
                "peers to ask": row["peers"],
                "score": _rounded(row["score"], 2),
            }
        )
    return year, rows


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
