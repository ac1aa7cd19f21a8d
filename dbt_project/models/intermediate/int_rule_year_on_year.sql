{{ config(materialized="ephemeral") }}
-- Year-on-year rules: an item or indicator of the submission that counts changed by more than
-- threshold_pct % from the participant's previous year (its submission that counts). Evaluated
-- only when the previous year was submitted. Missing values skip the rule or count as 0, as the
-- missing_value_strategy says; a change from 0 to anything else always exceeds the threshold.
with rules as (
    select *
    from {{ ref('int_validation_rules') }}
    where kind = 'year_on_year'
),

item_pairs as (
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
        {{ shown_value('cur.value', 'cur.flag', 'cur.is_person_count') }} as current_shown,
        {{ shown_value('prev.value', 'prev.flag', 'prev.is_person_count') }} as previous_shown,
        [r.left_side] as items_involved,
        [{{ shown_value('cur.value', 'cur.flag', 'cur.is_person_count') }}] as values_involved,
        r.left_side || ': ' || cur.comment as comments
    from {{ ref('int_latest_submissions') }} as s
    inner join {{ ref('int_latest_submissions') }} as p
        on s.participant_code = p.participant_code
        and s.collection_year - 1 = p.collection_year
    inner join rules as r on r.subject = 'item'
    left join {{ ref('int_return_values_latest') }} as cur
        on s.submission_id = cur.submission_id
        and r.left_side = cur.item_code
    left join {{ ref('int_return_values_latest') }} as prev
        on p.submission_id = prev.submission_id
        and r.left_side = prev.item_code
),

indicator_pairs as (
    select
        cur.submission_id,
        cur.participant_code,
        cur.collection_year,
        r.rule_id,
        r.left_side as subject_code,
        r.threshold_pct,
        r.missing_value_strategy,
        cur.value_raw as current_value,
        prev.value_raw as previous_value,
        {{ indicator_shown('cur', 'cur.value_raw') }} as current_shown,
        {{ indicator_shown('prev', 'prev.value_raw') }} as previous_shown,
        {{ indicator_items_involved('cur') }} as items_involved,
        {{ indicator_values_involved('cur') }} as values_involved,
        {{ indicator_comments('cur') }} as comments
    from {{ ref('int_indicator_values') }} as cur
    inner join rules as r
        on r.subject = 'indicator'
        and cur.indicator_code = r.left_side
    inner join {{ ref('int_indicator_values') }} as prev
        on cur.participant_code = prev.participant_code
        and cur.collection_year - 1 = prev.collection_year
        and cur.indicator_code = prev.indicator_code
),

pairs as (
    select * from item_pairs
    union all
    select * from indicator_pairs
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

changes as (
    select
        *,
        case when prev <> 0 then (cur - prev) / abs(prev) * 100 end as change_pct,
        case
            when prev = 0 then cur <> 0
            else abs(cur - prev) / abs(prev) * 100 > threshold_pct
        end as exceeded
    from evaluated
    where not skipped
)

select
    submission_id,
    participant_code,
    collection_year,
    rule_id,
    subject_code,
    items_involved,
    values_involved,
    subject_code || ' changed '
    || case
        when change_pct is null then ''
        else 'by ' || case when change_pct > 0 then '+' else '' end
            || cast(round(change_pct, 1) as varchar) || '% '
    end
    || 'from ' || previous_shown || ' (' || cast(collection_year - 1 as varchar) || ') to '
    || current_shown || ' (' || cast(collection_year as varchar) || '): more than '
    || {{ fmt_number('threshold_pct') }} || '% needs a comment' as message,
    comments
from changes
where exceeded
