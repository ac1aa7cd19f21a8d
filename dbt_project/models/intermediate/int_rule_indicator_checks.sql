{{ config(materialized="ephemeral") }}
-- Rules on indicators, evaluated for every submission that counts, one row per failed (and not
-- skipped) rule. The items involved are the indicator's numerator and denominator items.
-- - range: the value must lie between min_value and max_value (e.g. occupancy <= 110 %);
-- - peer_outlier: the value must lie within p25 - factor x IQR .. p75 + factor x IQR of the same
--   year's participants (macros/benchmark_statistics.sql, as the benchmark, but over the
--   unrounded values of every participant, suppressed or not); only years with at least
--   var('peer_outlier_min_participants', 5) participants with a value are compared;
-- - year_on_year: the change from the participant's previous year must not exceed
--   threshold_pct % (evaluated only when the previous year was submitted; a change from 0 to
--   anything else always exceeds it).
-- A value that cannot be computed skips the rule or counts as 0, as the missing_value_strategy
-- says. Rules are judged on the exact values (value_raw). Each finding has an exact text (the
-- submitter's own report) and a published one (macros/validation_findings.sql): the published
-- text quotes the indicator value and the counts as published, a change only between two
-- published values, and no statistic of the peers' exact values. One model for the three kinds: int_indicator_values is read once per role, and the
-- texts of a finding are written once, for the failed rules only.
with rules as (
    select *
    from ({{ normalised_validation_rules(ref('validation_rules')) }}) as r
    where subject = 'indicator' and kind in ('range', 'peer_outlier', 'year_on_year')
),

peers as (
    select
        collection_year,
        indicator_code,
        {{ benchmark_statistics('value_raw') }}
    from {{ ref('int_indicator_values') }}
    where value_raw is not null
        and indicator_code in (select left_side from rules where kind = 'peer_outlier')
    group by collection_year, indicator_code
    having count(value_raw) >= {{ var('peer_outlier_min_participants', 5) }}
),

evaluated as (
    select
        v.*,
        r.rule_id,
        r.kind,
        r.factor,
        r.min_value,
        r.max_value,
        r.threshold_pct,
        p.n,
        p.p25,
        p.p75,
        p.p25 - r.factor * (p.p75 - p.p25) as low,
        p.p75 + r.factor * (p.p75 - p.p25) as high,
        coalesce(v.value_raw, 0) as checked_value,
        coalesce(prev.value_raw, 0) as previous_value,
        prev.value as previous_published,
        {{ indicator_shown('prev', false) }} as previous_shown,
        {{ indicator_shown('prev', true) }} as previous_shown_published,
        coalesce(prev.small_numerator or prev.small_denominator, false) as previous_small,
        case
            when r.kind = 'year_on_year' then {{ rule_skipped(
                'r.missing_value_strategy',
                'cast(v.value_raw is not null as integer) + cast(prev.value_raw is not null as integer)',
                '2'
            ) }}
            else {{ rule_skipped('r.missing_value_strategy', 'cast(v.value_raw is not null as integer)', '1') }}
        end as skipped
    from {{ ref('int_indicator_values') }} as v
    inner join rules as r on v.indicator_code = r.left_side
    left join peers as p
        on r.kind = 'peer_outlier'
        and v.collection_year = p.collection_year
        and v.indicator_code = p.indicator_code
    left join {{ ref('int_indicator_values') }} as prev
        on r.kind = 'year_on_year'
        and v.participant_code = prev.participant_code
        and v.collection_year - 1 = prev.collection_year
        and v.indicator_code = prev.indicator_code
    where (r.kind <> 'peer_outlier' or p.indicator_code is not null)
        and (r.kind <> 'year_on_year' or prev.indicator_code is not null)
),

failed as (
    select
        *,
        {{ change_pct('checked_value', 'previous_value') }} as change_pct,
        {{ change_pct('value', 'previous_published') }} as change_pct_published
    from evaluated
    where not skipped and case kind
        when 'range' then not {{ in_range('checked_value', 'min_value', 'max_value') }}
        when 'peer_outlier' then checked_value < low or checked_value > high
        when 'year_on_year' then {{ change_exceeded('checked_value', 'previous_value', 'threshold_pct') }}
    end
),

shown as (
    select
        *,
        {{ indicator_items_involved('f') }} as items_involved,
        {{ indicator_values_involved('f', false) }} as values_involved_exact,
        {{ indicator_values_involved('f', true) }} as values_involved,
        {{ indicator_shown('f', false) }} as current_shown,
        {{ indicator_shown('f', true) }} as current_shown_published,
        {{ indicator_comments('f') }} as comments,
        f.small_numerator or f.small_denominator or f.previous_small as involves_small_count
    from failed as f
)

select
    submission_id,
    participant_code,
    collection_year,
    rule_id,
    indicator_code as subject_code,
    items_involved,
    values_involved_exact,
    values_involved,
    case kind
        when 'range' then indicator_code || ' (' || current_shown || ') must be '
            || {{ range_text('min_value', 'max_value') }} || ' '
            || {{ inputs_text('items_involved', 'values_involved_exact') }}
        when 'peer_outlier' then indicator_code || ' (' || current_shown || ') is '
            || case when checked_value > high then 'above' else 'below' end
            || ' the range of the year''s participants, '
            || {{ fmt_number('low') }} || ' to ' || {{ fmt_number('high') }}
            || ' (quartiles ' || {{ fmt_number('p25') }} || ' and ' || {{ fmt_number('p75') }}
            || ' ± ' || {{ fmt_number('factor') }} || ' × IQR, ' || cast(n as varchar) || ' participants) '
            || {{ inputs_text('items_involved', 'values_involved_exact') }}
        when 'year_on_year' then {{ change_message(
            'indicator_code', 'change_pct', 'previous_shown', 'current_shown', 'collection_year', 'threshold_pct'
        ) }}
    end as message_exact,
    case kind
        when 'range' then indicator_code || ' (' || current_shown_published || ') must be '
            || {{ range_text('min_value', 'max_value') }} || ' '
            || {{ inputs_text('items_involved', 'values_involved') }}
        when 'peer_outlier' then indicator_code || ' (' || current_shown_published || ') is '
            || case when checked_value > high then 'above' else 'below' end
            || ' the range of the year''s participants (quartiles ± ' || {{ fmt_number('factor') }}
            || ' × IQR, ' || cast(n as varchar) || ' participants) '
            || {{ inputs_text('items_involved', 'values_involved') }}
        when 'year_on_year' then {{ change_message(
            'indicator_code', 'change_pct_published', 'previous_shown_published', 'current_shown_published',
            'collection_year', 'threshold_pct'
        ) }}
    end as message,
    comments,
    involves_small_count
from shown
