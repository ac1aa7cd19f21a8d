{#- The content validation rules as the rule models read them, from the seed `rules`
    (ref('validation_rules')): item codes normalised (upper case, no spaces) and defaults filled
    (factor 1, or 1.5 x IQR for peer outliers; tolerance 0 %). The ephemeral model
    int_validation_rules is this query. The rule models (int_rule_*) inline it instead of
    ref'ing that model: dbt runs sqlparse over every model that refs an ephemeral model to
    inject its CTE (~10 ms per KB of SQL), and the rule models are large and compiled on the
    path every published mart waits for. -#}
{% macro normalised_validation_rules(rules) -%}
    select
        rule_id,
        section,
        kind,
        severity,
        subject,
        nullif(upper(replace(left_side, ' ', '')), '') as left_side,
        operator,
        nullif(upper(replace(right_side, ' ', '')), '') as right_side,
        coalesce(factor, case when kind = 'peer_outlier' then 1.5 else 1 end) as factor,
        min_value,
        max_value,
        coalesce(tolerance_pct, 0) as tolerance_pct,
        threshold_pct,
        missing_value_strategy,
        description
    from {{ rules }}
{%- endmacro %}

{#- One row per data item on each side of the rules about items (range, comparison, total,
    completeness) among `rules` (normalised rules: a relation or a CTE name):
    `A + B <= C` gives (left, 1, A), (left, 2, B), (right, 1, C). -#}
{% macro validation_rule_operands(rules) -%}
    select
        rule_id,
        side,
        generate_subscripts(codes, 1) as position,
        unnest(codes) as item_code
    from (
        select rule_id, 'left' as side, string_split(left_side, '+') as codes
        from {{ rules }}
        where subject = 'item' and left_side is not null
            and kind in ('range', 'comparison', 'total', 'completeness')
        union all
        select rule_id, 'right' as side, string_split(right_side, '+') as codes
        from {{ rules }}
        where subject = 'item' and right_side is not null and kind in ('comparison', 'total')
    ) as sides
{%- endmacro %}
