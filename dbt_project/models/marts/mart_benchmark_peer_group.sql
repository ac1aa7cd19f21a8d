-- Benchmark statistics per indicator, year and peer group (dim_participant.peer_group), over
-- participants with a published value (not null: not missing, not NA/NK, not suppressed).
-- Same statistics as mart_benchmark (macros/benchmark_statistics.sql); participants without a
-- peer group are left out.
select
    cast(v.indicator_code as varchar) as indicator_code,
    cast(v.collection_year as integer) as collection_year,
    cast(p.peer_group as varchar) as peer_group,
    {{ benchmark_statistics('v.value') }}
from {{ ref('fct_indicator_values') }} as v
inner join {{ ref('dim_participant') }} as p
    on v.participant_code = p.participant_code
where v.value is not null
    and p.peer_group is not null
group by v.indicator_code, v.collection_year, p.peer_group
