{{ config(materialized="ephemeral") }}
-- Content validation rules (seed validation_rules) with codes normalised and defaults filled:
-- factor 1 (1.5 x IQR for peer outliers), tolerance 0 %.
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
from {{ ref('validation_rules') }}
