{{ config(materialized="ephemeral") }}
-- Year-on-year rules on items: an item of the submission that counts changed by more than
-- threshold_pct % from the participant's previous year (its submission that counts). Evaluated
-- only when the previous year was submitted. Missing values skip the rule or count as 0, as the
-- missing_value_strategy says; a change from 0 to anything else always exceeds the threshold.
-- Year-on-year rules on indicators are evaluated with the other indicator rules
-- (int_rule_indicator_checks).
-- Judged on the exact values; the exact text (message_exact, for the submitter) quotes them, the
-- published one (message) the counts as published and the change between those: no change is
-- quoted from or to a suppressed count (macros/validation_findings.sql).
with rules as (
    select *
    from ({{ normalised_validation_rules(ref('validation_rules')) }}) as r
    where kind = 'year_on_year' and subject = 'item'
),

pairs as (
    select
        s.submission_id,
        s.participant_code,
        s.collection_year,
        r.rule_id,
        r.left_side as subject_code,
        r.threshold_pct,
        r.missing_value_strategy,
        cur.value as current_value,
        prev.value as previous_value,
        cur.flag as current_flag,
        prev.flag as previous_flag,
        cur.is_person_count as current_is_person_count,
        prev.is_person_count as previous_is_person_count,
        r.left_side || ': ' || cur.comment as comments
    from {{ ref('int_latest_submissions') }} as s
    inner join {{ ref('int_latest_submissions') }} as p
        on s.participant_code = p.participant_code
        and s.collection_year - 1 = p.collection_year
    cross join rules as r
    left join {{ ref('int_return_values_latest') }} as cur
        on s.submission_id = cur.submission_id
        and r.left_side = cur.item_code
    left join {{ ref('int_return_values_latest') }} as prev
        on p.submission_id = prev.submission_id
        and r.left_side = prev.item_code
),

evaluated as (
    select
        *,
        coalesce(current_value, 0) as cur,
        coalesce(previous_value, 0) as prev,
        {{ rule_skipped(
            'missing_value_strategy',
            'cast(current_value is not null as integer) + cast(previous_value is not null as integer)',
            '2'
        ) }} as skipped
    from pairs
),

failed as (
    select
        *,
        {{ change_pct('cur', 'prev') }} as change_pct,
        {{ change_pct(
            disclosed_count('current_value', 'current_is_person_count'),
            disclosed_count('previous_value', 'previous_is_person_count')
        ) }} as change_pct_published,
        {{ shown_value('current_value', 'current_flag', 'current_is_person_count', false) }} as current_shown,
        {{ shown_value('previous_value', 'previous_flag', 'previous_is_person_count', false) }} as previous_shown,
        {{ shown_value('current_value', 'current_flag', 'current_is_person_count', true) }}
            as current_shown_published,
        {{ shown_value('previous_value', 'previous_flag', 'previous_is_person_count', true) }}
            as previous_shown_published,
        coalesce({{ is_small_count('current_value', 'current_is_person_count') }}, false)
            or coalesce({{ is_small_count('previous_value', 'previous_is_person_count') }}, false)
            as involves_small_count
    from evaluated
    where not skipped and {{ change_exceeded('cur', 'prev', 'threshold_pct') }}
)

select
    submission_id,
    participant_code,
    collection_year,
    rule_id,
    subject_code,
    [subject_code] as items_involved,
    [current_shown] as values_involved_exact,
    [current_shown_published] as values_involved,
    {{ change_message(
        'subject_code', 'change_pct', 'previous_shown', 'current_shown', 'collection_year', 'threshold_pct'
    ) }} as message_exact,
    {{ change_message(
        'subject_code', 'change_pct_published', 'previous_shown_published', 'current_shown_published',
        'collection_year', 'threshold_pct'
    ) }} as message,
    comments,
    involves_small_count
from failed
