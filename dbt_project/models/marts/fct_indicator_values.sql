-- Indicators per participant and year, ready to publish: disclosure control applied (counts and
-- the value computed from the published counts, in int_indicator_values),
-- flags carried from the inputs, and a footnote an analyst can print under a chart.
-- An indicator whose numerator or denominator item is involved in an error finding of content
-- validation is suppressed (suppression_reason 'validation_error'), and so is that input.
-- The flags carried are those that come with a value (seed flags, value_rule required:
-- E, P, B, D); NA and NK leave no value and show in null_reason instead.
with flags_with_value as (
    select flag from {{ ref('flags') }} where value_rule = 'required'
),

base as (
    select
        v.*,
        case when v.numerator_flag in (select flag from flags_with_value) then v.numerator_flag end
            as numerator_quality_flag,
        case when v.denominator_flag in (select flag from flags_with_value) then v.denominator_flag end
            as denominator_quality_flag,
        p.fiscal_year_start_month,
        bn.item_code is not null as numerator_error,
        bd.item_code is not null as denominator_error
    from {{ ref('int_indicator_values') }} as v
    inner join {{ ref('dim_participant') }} as p
        on v.participant_code = p.participant_code
    -- only the participant-years of this release (final: approved; draft: all accepted)
    inner join {{ ref('int_release_scope') }} as rs on v.submission_id = rs.submission_id
    left join {{ ref('int_validation_blocked_items') }} as bn
        on v.submission_id = bn.submission_id
        and v.numerator_item = bn.item_code
    left join {{ ref('int_validation_blocked_items') }} as bd
        on v.submission_id = bd.submission_id
        and v.denominator_item = bd.item_code
)

select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(indicator_code as varchar) as indicator_code,
    cast(case when numerator_error then null else numerator_published end as double) as numerator,
    cast(case when denominator_error then null else denominator_published end as double) as denominator,
    cast(case when numerator_error or denominator_error then null else value end as double) as value,
    cast(
        nullif(array_to_string(list_sort(list_distinct(list_filter(
            [numerator_quality_flag, denominator_quality_flag], lambda f: f is not null
        ))), ','), '') as varchar
    ) as flags,
    cast(null_reason as varchar) as null_reason,
    cast(
        small_numerator or small_denominator or numerator_error or denominator_error as boolean
    ) as suppressed,
    cast(
        case
            when numerator_error or denominator_error then 'validation_error'
            when small_numerator then 'small_count_numerator'
            when small_denominator then 'small_count_denominator'
        end as varchar
    ) as suppression_reason,
    cast(nullif(concat_ws('; ',
        case when fiscal_year_start_month <> 1 then
            'Financial year starting ' || strftime(make_date(2000, fiscal_year_start_month, 1), '%B')
        end,
        coverage_note,
        case when numerator_flag = 'D' then 'Definition differs (' || numerator_item || ')'
            || coalesce(': ' || numerator_comment, '') end,
        case when denominator_flag = 'D' then 'Definition differs (' || denominator_item || ')'
            || coalesce(': ' || denominator_comment, '') end,
        case when uses_ppp then 'Converted to international $ with {{ var("ppp_basis") }}' end
    ), '') as varchar) as footnote,
    cast(submission_id as varchar) as submission_id
from base
