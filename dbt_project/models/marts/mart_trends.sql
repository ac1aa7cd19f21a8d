-- Year-on-year change per participant and indicator (macros/change_pct.sql). The previous value
-- is the value of exactly year - 1: after a gap year there is no previous value (a gap does not
-- bridge).
-- A change crosses a break in series when this year carries a B flag (B marks the first value of
-- a new series: the change into that year crosses the break, the change after it does not), or
-- when the D flag (definition differs) is on in one year and off in the other. The values are
-- the published ones (fct_indicator_values, from the published counts), so is the change.
with rows_with_status as (
    select
        participant_code,
        collection_year,
        indicator_code,
        value,
        flags,
        coalesce(list_contains(string_split(replace(flags, ' ', ''), ','), 'B'), false) as has_break_flag,
        coalesce(list_contains(string_split(replace(flags, ' ', ''), ','), 'D'), false) as has_definition_flag
    from {{ ref('fct_indicator_values') }}
)

select
    cast(cur.participant_code as varchar) as participant_code,
    cast(cur.indicator_code as varchar) as indicator_code,
    cast(cur.collection_year as integer) as collection_year,
    cast(cur.value as double) as value,
    cast(cur.flags as varchar) as flags,
    cast(prev.value as double) as previous_year_value,
    cast(prev.flags as varchar) as previous_year_flags,
    cast({{ change_pct('cur.value', 'prev.value') }} as double) as change_pct,
    cast(
        cur.has_break_flag
        or coalesce(cur.has_definition_flag <> prev.has_definition_flag, false)
        as boolean
    ) as break_in_series
from rows_with_status as cur
left join rows_with_status as prev
    on cur.participant_code = prev.participant_code
    and cur.indicator_code = prev.indicator_code
    and cur.collection_year - 1 = prev.collection_year
