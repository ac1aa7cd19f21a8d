{{ config(materialized="ephemeral") }}
-- Range, comparison and total rules on submitted items, evaluated for every submission that
-- counts. One row per failed (and not skipped) rule. A missing value (blank, NA, NK, no row)
-- skips the rule or counts as 0, as its missing_value_strategy says.
-- Every rule is judged on numbers alone; the texts of a finding (values as shown, comments)
-- are put together only for the few rules that failed: ordered text aggregates over every
-- submission x rule were most of the cost of content validation.
-- Each finding has an exact text (message_exact, values_involved_exact: the submitter's own
-- report) and a published one (message, values_involved): counts as published, sums of the
-- published counts, "1-7" for a suppressed count and no sum that includes one.
with rules as (
    select *
    from ({{ normalised_validation_rules(ref('validation_rules')) }}) as r
    where subject = 'item' and kind in ('range', 'comparison', 'total')
),

operands as (
    select
        s.submission_id,
        s.participant_code,
        s.collection_year,
        o.rule_id,
        o.side,
        o.position,
        o.item_code,
        v.value,
        v.flag,
        v.comment,
        v.is_person_count
    from {{ ref('int_latest_submissions') }} as s
    cross join ({{ validation_rule_operands('rules') }}) as o
    left join {{ ref('int_return_values_latest') }} as v
        on s.submission_id = v.submission_id
        and o.item_code = v.item_code
),

sides as (
    select
        submission_id,
        participant_code,
        collection_year,
        rule_id,
        sum(value) filter (where side = 'left') as left_sum,
        sum(value) filter (where side = 'right') as right_sum,
        count(*) filter (where side = 'left') as n_left,
        count(*) filter (where side = 'right') as n_right,
        count(*) as n_values,
        count(value) as n_present
    from operands
    group by submission_id, participant_code, collection_year, rule_id
),

evaluated as (
    select
        s.*,
        r.kind,
        r.operator,
        r.factor,
        r.min_value,
        r.max_value,
        r.tolerance_pct,
        coalesce(s.left_sum, 0) as lhs,
        coalesce(s.right_sum, 0) as total,
        coalesce(s.right_sum, 0) * r.factor as rhs,
        {{ rule_skipped('r.missing_value_strategy', 's.n_present', 's.n_values') }} as skipped
    from sides as s
    inner join rules as r on s.rule_id = r.rule_id
),

failed as (
    select *
    from evaluated
    where not skipped and not coalesce(
        case kind
            when 'range' then {{ in_range('lhs', 'min_value', 'max_value') }}
            when 'comparison' then case operator
                when '<=' then lhs <= rhs
                when '<' then lhs < rhs
                when '>=' then lhs >= rhs
                when '>' then lhs > rhs
                when '=' then lhs = rhs
            end
            when 'total' then abs(lhs - total) <= tolerance_pct / 100 * abs(total)
        end,
        false
    )
),

failed_operands as (
    select
        o.*,
        {{ shown_value('o.value', 'o.flag', 'o.is_person_count', false) }} as shown,
        {{ shown_value('o.value', 'o.flag', 'o.is_person_count', true) }} as shown_published,
        {{ disclosed_count('o.value', 'o.is_person_count') }} as value_published,
        coalesce({{ is_small_count('o.value', 'o.is_person_count') }}, false) as masked
    from operands as o
    semi join failed as f
        on o.submission_id = f.submission_id
        and o.rule_id = f.rule_id
),

texts as (
    select
        submission_id,
        rule_id,
        coalesce(bool_or(masked) filter (where side = 'left'), false) as left_masked,
        coalesce(bool_or(masked) filter (where side = 'right'), false) as right_masked,
        string_agg(item_code || ' (' || shown || ')', ' + ' order by position)
            filter (where side = 'left') as left_text,
        string_agg(item_code || ' (' || shown || ')', ' + ' order by position)
            filter (where side = 'right') as right_text,
        string_agg(item_code || ' (' || shown_published || ')', ' + ' order by position)
            filter (where side = 'left') as left_text_published,
        string_agg(item_code || ' (' || shown_published || ')', ' + ' order by position)
            filter (where side = 'right') as right_text_published,
        coalesce(sum(value_published) filter (where side = 'left'), 0) as lhs_published,
        coalesce(sum(value_published) filter (where side = 'right'), 0) as total_published,
        bool_or(masked) as involves_small_count,
        list(item_code order by side, position) as items_involved,
        list(shown order by side, position) as values_involved_exact,
        list(shown_published order by side, position) as values_involved,
        string_agg(item_code || ': ' || comment, '; ' order by side, position) as comments,
        first(item_code order by side, position) as subject_code
    from failed_operands
    group by submission_id, rule_id
),

judged as (
    select
        f.*,
        t.subject_code,
        t.items_involved,
        t.values_involved_exact,
        t.values_involved,
        t.comments,
        t.involves_small_count,
        t.right_text,
        t.right_text_published,
        t.left_text_published || case
            when f.n_left > 1 and not t.left_masked then ' = ' || {{ fmt_number('t.lhs_published') }} else ''
        end as left_expression_published,
        case when f.factor <> 1 then {{ fmt_number('f.factor') }} || ' × ' else '' end
        || t.right_text_published
        || case
            when (f.n_right > 1 or f.factor <> 1) and not t.right_masked
                then ' = ' || {{ fmt_number('t.total_published * f.factor') }}
            else ''
        end as right_expression_published,
        t.left_text || case
            when f.n_left > 1 and not t.left_masked then ' = ' || {{ fmt_number('f.lhs') }} else ''
        end as left_expression,
        case when f.factor <> 1 then {{ fmt_number('f.factor') }} || ' × ' else '' end
        || t.right_text
        || case
            when (f.n_right > 1 or f.factor <> 1) and not t.right_masked
                then ' = ' || {{ fmt_number('f.rhs') }}
            else ''
        end as right_expression
    from failed as f
    inner join texts as t
        on f.submission_id = t.submission_id
        and f.rule_id = t.rule_id
)

select
    submission_id,
    participant_code,
    collection_year,
    rule_id,
    subject_code,
    items_involved,
    values_involved_exact,
    values_involved,
    case kind
        when 'range' then left_expression || ' must be ' || {{ range_text('min_value', 'max_value') }}
        when 'comparison' then left_expression || ' must be ' || operator || ' ' || right_expression
        when 'total' then left_expression || ' must equal ' || right_text
            || case when tolerance_pct > 0 then ' within ' || {{ fmt_number('tolerance_pct') }} || '%' else '' end
    end as message_exact,
    case kind
        when 'range' then left_expression_published || ' must be ' || {{ range_text('min_value', 'max_value') }}
        when 'comparison' then left_expression_published || ' must be ' || operator || ' ' || right_expression_published
        when 'total' then left_expression_published || ' must equal ' || right_text_published
            || case when tolerance_pct > 0 then ' within ' || {{ fmt_number('tolerance_pct') }} || '%' else '' end
    end as message,
    comments,
    involves_small_count
from judged
