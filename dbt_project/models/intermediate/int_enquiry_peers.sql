-- The peers to ask for each published value (mart_lines_of_enquiry.peers): up to 3 participants
-- on the other side of the median (mart_benchmark), at the far end of it. For a participant
-- worse than the median that is the better end; a participant in an outer quartile (1 or 4)
-- is given peers of the opposite outer quartile only ("the other end").
-- Comparable data only: a participant whose value carries a D flag (definition differs) on
-- the indicator is never a peer. Peers of the same peer group come first, then the farthest
-- from the median; ties by participant code.
-- Only published values take part (mart_participant_position has no other rows).
with positions as (
    select
        pos.participant_code,
        pos.collection_year,
        pos.indicator_code,
        pos.value,
        pos.rank,
        pos.n,
        pos.quartile,
        pos.median,
        pos.peer_group,
        coalesce(list_contains(string_split(replace(v.flags, ' ', ''), ','), 'D'), false)
            as definition_differs
    from {{ ref('mart_participant_position') }} as pos
    inner join {{ ref('fct_indicator_values') }} as v
        on pos.participant_code = v.participant_code
        and pos.collection_year = v.collection_year
        and pos.indicator_code = v.indicator_code
),

candidates as (
    select
        a.participant_code,
        a.collection_year,
        a.indicator_code,
        b.participant_code as peer_code,
        b.value as peer_value,
        b.rank as peer_rank,
        b.n as peer_n,
        b.quartile as peer_quartile,
        coalesce(a.peer_group = b.peer_group, false) as same_peer_group,
        abs(b.value - b.median) as peer_distance_from_median
    from positions as a
    inner join positions as b
        on a.collection_year = b.collection_year
        and a.indicator_code = b.indicator_code
        and a.participant_code <> b.participant_code
    where not b.definition_differs
        -- the other side of the median (a value on the median has no other side)
        and sign(a.value - a.median) <> 0
        and sign(b.value - b.median) = -sign(a.value - a.median)
        -- from an outer quartile, only the opposite outer quartile
        and (a.quartile not in (1, 4) or b.quartile = 5 - a.quartile)
),

ordered as (
    select
        *,
        row_number() over (
            partition by participant_code, collection_year, indicator_code
            order by same_peer_group desc, peer_distance_from_median desc, peer_code
        ) as peer_order
    from candidates
)

select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(indicator_code as varchar) as indicator_code,
    cast(peer_order as integer) as peer_order,
    cast(peer_code as varchar) as peer_code,
    cast(peer_value as double) as peer_value,
    cast(peer_rank as integer) as peer_rank,
    cast(peer_n as integer) as peer_n,
    cast(peer_quartile as integer) as peer_quartile,
    cast(same_peer_group as boolean) as same_peer_group
from ordered
where peer_order <= 3
