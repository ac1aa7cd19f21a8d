{#- Attributed to the rules seed, so Dagster shows it as a check on reference/validation_rules. -#}
{{ config(meta={"dagster": {"ref": {"name": "validation_rules"}}}) }}
-- depends_on: {{ ref('validation_rules') }}
{#- dagster-dbt builds a test's check from the children of its asset: the direct dependency on
    the seed makes this test one of them (it otherwise reads the seed through ephemeral models). -#}
-- Every content validation rule (seeds/validation_rules.csv) is well formed: one row per
-- problem, with the rule and what is wrong, so a domain expert's typo fails the build early.
-- The rules as the rule models read them (macros/validation_rules.sql).
with rules as (
    {{ normalised_validation_rules(ref('validation_rules')) }}
),

operand_codes as (
    select rule_id, item_code from ({{ validation_rule_operands('rules') }}) as o
),

problems as (
    select rule_id, 'rule_id is blank' as problem from rules where rule_id is null or trim(rule_id) = ''
    union all
    select rule_id, 'rule_id is not unique' from rules group by rule_id having count(*) > 1
    union all
    select rule_id, 'unknown kind ' || coalesce(kind, '(blank)') from rules
    where kind is null
        or kind not in ('range', 'comparison', 'total', 'year_on_year', 'peer_outlier', 'completeness')
    union all
    select rule_id, 'severity must be error or warning, not ' || coalesce(severity, '(blank)')
    from rules where severity is null or severity not in ('error', 'warning')
    union all
    select rule_id, 'subject must be item or indicator' from rules
    where subject is null or subject not in ('item', 'indicator')
    union all
    select rule_id, 'unknown missing_value_strategy ' || coalesce(missing_value_strategy, '(blank)')
    from rules
    where missing_value_strategy is null or missing_value_strategy not in (
        'SKIP_IF_ANY_VALUE_MISSING', 'SKIP_IF_ALL_VALUES_MISSING', 'NEVER_SKIP'
    )
    union all
    select rule_id, 'description is blank' from rules where coalesce(trim(description), '') = ''
    union all
    select rule_id, 'left_side is blank' from rules where kind <> 'completeness' and left_side is null
    union all
    select rule_id, 'comparison and total rules need an operator (<=, <, >=, >, =) and a right_side'
    from rules
    where kind in ('comparison', 'total')
        and (right_side is null or operator is null or operator not in ('<=', '<', '>=', '>', '='))
    union all
    select rule_id, 'comparison, total and range rules are about items' from rules
    where kind in ('comparison', 'total') and subject <> 'item'
    union all
    select rule_id, 'range rules need min_value or max_value' from rules
    where kind = 'range' and min_value is null and max_value is null
    union all
    select rule_id, 'year_on_year rules need threshold_pct' from rules
    where kind = 'year_on_year' and threshold_pct is null
    union all
    select rule_id, 'peer_outlier rules are about indicators' from rules
    where kind = 'peer_outlier' and subject <> 'indicator'
    union all
    select rule_id, 'completeness rules are about items' from rules
    where kind = 'completeness' and subject <> 'item'
    union all
    select r.rule_id, 'unknown indicator ' || r.left_side from rules as r
    where r.subject = 'indicator'
        and r.left_side not in (select indicator_code from {{ ref('indicators') }})
    union all
    select o.rule_id, 'unknown item ' || o.item_code from operand_codes as o
    where o.item_code not in (select item_code from {{ ref('data_items') }})
    union all
    select r.rule_id, 'unknown item ' || r.left_side from rules as r
    where r.subject = 'item' and r.kind = 'year_on_year'
        and r.left_side not in (select item_code from {{ ref('data_items') }})
)

select * from problems
