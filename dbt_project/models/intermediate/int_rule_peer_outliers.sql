{{ config(materialized="ephemeral") }}
-- Peer outlier rules: an indicator of the submission that counts lies outside
-- p25 - factor x IQR .. p75 + factor x IQR of the same year's participants (quantile_cont,
-- as the benchmark). Only years with at least var('peer_outlier_min_participants', 5)
-- participants with a value are compared. A missing value skips the rule, unless NEVER_SKIP
-- (then it counts as 0).
with rules as (
    select *
    from {{ ref('int_validation_rules') }}
    where subject = 'indicator' and kind = 'peer_outlier'
),

peers as (
    select
        collection_year,
        indicator_code,
        count(*) as n,
        quantile_cont(value_raw, 0.25) as p25,
        quantile_cont(value_raw, 0.75) as p75
    from {{ ref('int_indicator_values') }}
    where value_raw is not null
    group by collection_year, indicator_code
    having count(*) >= {{ var('peer_outlier_min_participants', 5) }}
),

evaluated as (
    select
        v.*,
        r.rule_id,
        r.factor,
        p.n,
        p.p25,
        p.p75,
        p.p25 - r.factor * (p.p75 - p.p25) as low,
        p.p75 + r.factor * (p.p75 - p.p25) as high,
        coalesce(v.value_raw, 0) as checked_value,
        {{ rule_skipped('r.missing_value_strategy', 'cast(v.value_raw is not null as integer)', '1') }}
            as skipped
    from {{ ref('int_indicator_values') }} as v
    inner join rules as r on v.indicator_code = r.left_side
    inner join peers as p
        on v.collection_year = p.collection_year
        and v.indicator_code = p.indicator_code
)

select
    v.submission_id,
    v.participant_code,
    v.collection_year,
    v.rule_id,
    v.indicator_code as subject_code,
    {{ indicator_items_involved('v') }} as items_involved,
    {{ indicator_values_involved('v') }} as values_involved,
    v.indicator_code || ' (' || {{ indicator_shown('v', 'v.value_raw') }} || ') is '
    || case when v.checked_value > v.high then 'above' else 'below' end
    || ' the range of the year''s participants, '
    || {{ fmt_number('v.low') }} || ' to ' || {{ fmt_number('v.high') }}
    || ' (quartiles ' || {{ fmt_number('v.p25') }} || ' and ' || {{ fmt_number('v.p75') }}
    || ' ± ' || {{ fmt_number('v.factor') }} || ' × IQR, ' || cast(v.n as varchar) || ' participants) '
    || {{ indicator_inputs_text('v') }} as message,
    {{ indicator_comments('v') }} as comments
from evaluated as v
where not v.skipped and (v.checked_value < v.low or v.checked_value > v.high)
