-- Lines of enquiry (DESIGN.md): for each published value, how far it is from the median, in
-- which direction, how it changed, what could explain it without a real difference in services
-- (caveats), whom to ask (peers), and a score that orders a participant's enquiries.
-- Built only on published marts (mart_participant_position, mart_benchmark*, mart_trends,
-- fct_indicator_values, fct_return_values flags and comments): every figure here is a
-- published figure or derived from published figures, never from a raw count.
--
-- The score (one formula, here):
--     score = caveat_factor x (least(|distance_iqr|, 4) + (1 if change_unusual else 0))
--     caveat_factor = 0.5 ^ (comparability caveats: D flag, break in series)
--                   x 0.8 ^ (other caveats: coverage note, E flag, P flag, small denominator)
-- A value 4 IQRs or more from the median counts as 4, so one extreme value does not swamp the
-- rest; an unusual change adds 1; each caveat that could explain the difference lowers it.
-- A change is unusual when |change_pct| is more than var enquiry_unusual_change_factor (2) times
-- the participant's own typical change on the indicator (the median of its earlier absolute
-- changes), or beyond the 90th percentile of all participants' absolute changes that year.
-- A row with a score of at least var enquiry_min_score (1.5) is an enquiry (is_enquiry).
with indicators as (
    select indicator_code, section, higher_is_better, numerator_item, denominator_item
    from {{ ref('dim_indicator') }}
),

positions as (
    select
        pos.participant_code,
        pos.collection_year,
        pos.indicator_code,
        pos.value,
        pos.rank,
        pos.n,
        pos.quartile,
        pos.median,
        pos.pct_from_median,
        b.p25,
        b.p75,
        pos.peer_group,
        g.n as peer_n,
        g.median as peer_median,
        g.p25 as peer_p25,
        g.p75 as peer_p75
    from {{ ref('mart_participant_position') }} as pos
    inner join {{ ref('mart_benchmark') }} as b
        on pos.indicator_code = b.indicator_code
        and pos.collection_year = b.collection_year
    left join {{ ref('mart_benchmark_peer_group') }} as g
        on pos.indicator_code = g.indicator_code
        and pos.collection_year = g.collection_year
        and pos.peer_group = g.peer_group
),

-- Changes that can be compared: published on both years, not across a break in series.
comparable_changes as (
    select participant_code, indicator_code, collection_year, abs(change_pct) as abs_change
    from {{ ref('mart_trends') }}
    where change_pct is not null and not break_in_series
),

-- The participant's own typical change on the indicator: the median absolute change of the
-- years before (at least 2 of them).
own_typical as (
    select
        t.participant_code,
        t.indicator_code,
        t.collection_year,
        quantile_cont(c.abs_change, 0.5) as typical_abs_change
    from {{ ref('mart_trends') }} as t
    inner join comparable_changes as c
        on t.participant_code = c.participant_code
        and t.indicator_code = c.indicator_code
        and c.collection_year < t.collection_year
    group by t.participant_code, t.indicator_code, t.collection_year
    having count(c.abs_change) >= 2
),

-- The 90th percentile of all participants' absolute changes of the year (at least 4 of them).
network_p90 as (
    select indicator_code, collection_year, quantile_cont(abs_change, 0.9) as p90_abs_change
    from comparable_changes
    group by indicator_code, collection_year
    having count(*) >= 4
),

definition_comments as (
    select participant_code, collection_year, item_code, comment
    from {{ ref('fct_return_values') }}
    where flag = 'D'
),

facts as (
    select
        p.*,
        i.section,
        i.higher_is_better,
        i.numerator_item,
        i.denominator_item,
        t.previous_year_value,
        t.change_pct,
        coalesce(t.break_in_series, false) as break_in_series,
        o.typical_abs_change,
        n90.p90_abs_change,
        coalesce(list_contains(string_split(replace(v.flags, ' ', ''), ','), 'D'), false)
            as definition_differs,
        coalesce(list_contains(string_split(replace(v.flags, ' ', ''), ','), 'E'), false)
            as estimated,
        coalesce(list_contains(string_split(replace(v.flags, ' ', ''), ','), 'P'), false)
            as provisional,
        coalesce(di.is_person_count and v.denominator < {{ var('enquiry_small_denominator') }}, false)
            as small_denominator,
        di.item_name as denominator_item_name,
        s.coverage_note,
        dn.comment as numerator_definition_comment,
        dd.comment as denominator_definition_comment,
        dn.item_code is not null as numerator_definition_differs,
        dd.item_code is not null as denominator_definition_differs
    from positions as p
    inner join indicators as i
        on p.indicator_code = i.indicator_code
    inner join {{ ref('fct_indicator_values') }} as v
        on p.participant_code = v.participant_code
        and p.collection_year = v.collection_year
        and p.indicator_code = v.indicator_code
    left join {{ ref('mart_trends') }} as t
        on p.participant_code = t.participant_code
        and p.collection_year = t.collection_year
        and p.indicator_code = t.indicator_code
    left join own_typical as o
        on p.participant_code = o.participant_code
        and p.collection_year = o.collection_year
        and p.indicator_code = o.indicator_code
    left join network_p90 as n90
        on p.indicator_code = n90.indicator_code
        and p.collection_year = n90.collection_year
    left join {{ ref('dim_data_item') }} as di
        on i.denominator_item = di.item_code
    left join {{ ref('int_latest_submissions') }} as s
        on v.submission_id = s.submission_id
    left join definition_comments as dn
        on p.participant_code = dn.participant_code
        and p.collection_year = dn.collection_year
        and i.numerator_item = dn.item_code
    left join definition_comments as dd
        on p.participant_code = dd.participant_code
        and p.collection_year = dd.collection_year
        and i.denominator_item = dd.item_code
),

measured as (
    select
        *,
        (value - median) / nullif(p75 - p25, 0) as distance_iqr,
        coalesce(peer_n >= 4, false) as peer_group_used,
        coalesce(
            abs(change_pct) > {{ var('enquiry_unusual_change_factor') }} * typical_abs_change, false
        ) as change_above_own_typical,
        coalesce(abs(change_pct) > p90_abs_change, false) as change_above_network_p90,
        -- a D flag without a comment on either item still is a caveat
        (definition_differs or numerator_definition_differs or denominator_definition_differs)
            as has_definition_caveat
    from facts
),

caveated as (
    select
        *,
        list_filter([
            case when has_definition_caveat then
                'Definition differs from the dictionary'
                || coalesce(' (' || numerator_item || '): ' || numerator_definition_comment, '')
                || coalesce(' (' || denominator_item || '): ' || denominator_definition_comment, '')
            end,
            case when break_in_series then
                'Break in series between ' || (collection_year - 1) || ' and ' || collection_year
            end,
            case when coverage_note is not null then 'Coverage: ' || coverage_note end,
            case when estimated then 'Estimated value (E flag)' end,
            case when provisional then 'Provisional value (P flag)' end,
            case when small_denominator then
                'Small denominator: fewer than {{ var("enquiry_small_denominator") }} '
                || lower(denominator_item_name)
            end
        ], lambda c: c is not null) as caveat_list,
        power(0.5, cast(has_definition_caveat as integer) + cast(break_in_series as integer))
        * power(0.8,
            cast(coverage_note is not null as integer) + cast(estimated as integer)
            + cast(provisional as integer) + cast(small_denominator as integer)
        ) as caveat_factor_raw
    from measured
),

peers as (
    select
        q.participant_code,
        q.collection_year,
        q.indicator_code,
        list(
            {
                'participant_code': q.peer_code,
                'participant_name': d.participant_name,
                'value': q.peer_value,
                'rank': q.peer_rank,
                'n': q.peer_n,
                'quartile': q.peer_quartile,
                'same_peer_group': q.same_peer_group
            }
            order by q.peer_order
        ) as peer_list
    from {{ ref('int_enquiry_peers') }} as q
    inner join {{ ref('dim_participant') }} as d
        on q.peer_code = d.participant_code
    group by q.participant_code, q.collection_year, q.indicator_code
),

scored as (
    select
        c.*,
        p.peer_list,
        c.change_above_own_typical or c.change_above_network_p90 as change_unusual,
        c.caveat_factor_raw * (
            least(abs(coalesce(c.distance_iqr, 0)), 4)
            + case when c.change_above_own_typical or c.change_above_network_p90 then 1 else 0 end
        ) as score_raw
    from caveated as c
    left join peers as p
        on c.participant_code = p.participant_code
        and c.collection_year = p.collection_year
        and c.indicator_code = p.indicator_code
)

select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(indicator_code as varchar) as indicator_code,
    cast(section as varchar) as section,
    cast(value as double) as value,
    cast(n as integer) as n,
    cast(rank as integer) as rank,
    cast(quartile as integer) as quartile,
    cast(median as double) as median,
    cast(p75 - p25 as double) as iqr,
    cast(pct_from_median as double) as pct_from_median,
    cast(distance_iqr as double) as distance_iqr,
    cast(peer_group as varchar) as peer_group,
    cast(case when peer_group_used then 'peer_group' else 'all_participants' end as varchar)
        as group_basis,
    cast(case when peer_group_used then peer_n else n end as integer) as group_n,
    cast(case when peer_group_used then peer_median else median end as double) as group_median,
    cast(
        case when peer_group_used then (value - peer_median) / nullif(peer_p75 - peer_p25, 0)
        else distance_iqr end as double
    ) as group_distance_iqr,
    cast(
        case
            when higher_is_better is null then 'neutral'
            when value = median then 'at_median'
            when (value > median) = higher_is_better then 'better'
            else 'worse'
        end as varchar
    ) as direction,
    cast(previous_year_value as double) as previous_year_value,
    cast(change_pct as double) as change_pct,
    cast(typical_abs_change as double) as typical_abs_change_pct,
    cast(p90_abs_change as double) as p90_abs_change_pct,
    cast(change_unusual as boolean) as change_unusual,
    cast(caveat_list as varchar[]) as caveats,
    cast(len(caveat_list) as integer) as n_caveats,
    cast(round(caveat_factor_raw, 4) as double) as caveat_factor,
    cast(
        coalesce(peer_list, [])
        as struct(
            participant_code varchar, participant_name varchar, value double, rank integer,
            n integer, quartile integer, same_peer_group boolean
        )[]
    ) as peers,
    cast(round(score_raw, 4) as double) as score,
    cast(
        row_number() over (
            partition by participant_code, collection_year
            order by score_raw desc, indicator_code
        ) as integer
    ) as enquiry_rank,
    cast(score_raw >= {{ var('enquiry_min_score') }} as boolean) as is_enquiry
from scored
