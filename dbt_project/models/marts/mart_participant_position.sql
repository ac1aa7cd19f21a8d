-- Where each participant stands among all participants and within its peer group, per
-- indicator and year. Only rows with a published value (not null: not missing, not NA/NK,
-- not suppressed) are ranked and kept. Medians and quartiles come from mart_benchmark and
-- mart_benchmark_peer_group, so a position always agrees with the published statistics.
with published as (
    select
        v.participant_code,
        v.collection_year,
        v.indicator_code,
        v.value,
        p.peer_group
    from {{ ref('fct_indicator_values') }} as v
    inner join {{ ref('dim_participant') }} as p
        on v.participant_code = p.participant_code
    where v.value is not null
),

ranked as (
    select
        *,
        rank() over (partition by indicator_code, collection_year order by value desc) as overall_rank,
        case when peer_group is not null then
            rank() over (partition by indicator_code, collection_year, peer_group order by value desc)
        end as peer_group_rank
    from published
)

select
    cast(r.participant_code as varchar) as participant_code,
    cast(r.collection_year as integer) as collection_year,
    cast(r.indicator_code as varchar) as indicator_code,
    cast(r.value as double) as value,
    cast(r.overall_rank as integer) as rank,
    cast(b.n as integer) as n,
    cast(
        case
            when r.value >= b.p75 then 1
            when r.value >= b.median then 2
            when r.value >= b.p25 then 3
            else 4
        end as integer
    ) as quartile,
    cast(b.median as double) as median,
    cast({{ change_pct('r.value', 'b.median') }} as double) as pct_from_median,
    cast(r.peer_group as varchar) as peer_group,
    cast(r.peer_group_rank as integer) as peer_rank,
    cast(g.n as integer) as peer_n,
    cast(g.median as double) as peer_median,
    cast({{ change_pct('r.value', 'g.median') }} as double) as peer_pct_from_median
from ranked as r
inner join {{ ref('mart_benchmark') }} as b
    on r.indicator_code = b.indicator_code
    and r.collection_year = b.collection_year
left join {{ ref('mart_benchmark_peer_group') }} as g
    on r.indicator_code = g.indicator_code
    and r.collection_year = g.collection_year
    and r.peer_group = g.peer_group
