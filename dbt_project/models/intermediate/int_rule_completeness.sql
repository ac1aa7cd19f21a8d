{{ config(materialized="ephemeral") }}
-- Completeness rules: a mandatory item (or each item the rule lists) of the submission that
-- counts has no value and is not flagged NA (not applicable). Blank without a flag, NK (not
-- known) and a missing row all leave the return incomplete. Missing values are the point of
-- the rule, so the missing_value_strategy does not apply (NEVER_SKIP). A finding quotes no
-- value, so its exact and published texts are the same.
with rules as (
    select *
    from ({{ normalised_validation_rules(ref('validation_rules')) }}) as r
    where kind = 'completeness'
),

scope as (
    select r.rule_id, i.item_code
    from rules as r
    inner join {{ ref('data_items') }} as i on r.left_side is null and i.mandatory
    union
    select o.rule_id, o.item_code
    from ({{ validation_rule_operands('rules') }}) as o
)

select
    s.submission_id,
    s.participant_code,
    s.collection_year,
    c.rule_id,
    c.item_code as subject_code,
    [c.item_code] as items_involved,
    [coalesce(v.flag, 'missing')] as values_involved,
    values_involved as values_involved_exact,
    c.item_code || case
        when v.item_code is null then ' has no row in the return'
        when v.flag = 'NK' then ' was reported as not known (NK)'
        else ' has no value and no flag'
    end || ': a value is required, or NA if the service does not exist' as message,
    message as message_exact,
    c.item_code || ': ' || v.comment as comments,
    false as involves_small_count
from {{ ref('int_latest_submissions') }} as s
cross join scope as c
left join {{ ref('int_return_values_latest') }} as v
    on s.submission_id = v.submission_id
    and c.item_code = v.item_code
where v.value is null and coalesce(v.flag, '') <> 'NA'
