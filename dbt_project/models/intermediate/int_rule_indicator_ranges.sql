{{ config(materialized="ephemeral") }}
-- Range rules on indicators (e.g. occupancy excluding leave <= 110 %), evaluated for every
-- submission that counts. The items involved are the indicator's numerator and denominator
-- items. A value that cannot be computed skips the rule, unless NEVER_SKIP (then it counts as 0).
with rules as (
    select *
    from {{ ref('int_validation_rules') }}
    where subject = 'indicator' and kind = 'range'
),

evaluated as (
    select
        v.*,
        r.rule_id,
        r.min_value,
        r.max_value,
        coalesce(v.value_raw, 0) as checked_value,
        {{ rule_skipped('r.missing_value_strategy', 'cast(v.value_raw is not null as integer)', '1') }}
            as skipped
    from {{ ref('int_indicator_values') }} as v
    inner join rules as r on v.indicator_code = r.left_side
)

select
    v.submission_id,
    v.participant_code,
    v.collection_year,
    v.rule_id,
    v.indicator_code as subject_code,
    {{ indicator_items_involved('v') }} as items_involved,
    {{ indicator_values_involved('v') }} as values_involved,
    v.indicator_code || ' (' || {{ indicator_shown('v', 'v.value_raw') }} || ') must be '
    || {{ range_text('v.min_value', 'v.max_value') }} || ' ' || {{ indicator_inputs_text('v') }}
        as message,
    {{ indicator_comments('v') }} as comments
from evaluated as v
where not v.skipped and not {{ in_range('v.checked_value', 'v.min_value', 'v.max_value') }}
