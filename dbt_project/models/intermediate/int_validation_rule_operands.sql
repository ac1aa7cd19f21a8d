{{ config(materialized="ephemeral") }}
-- One row per data item on each side of the rules about items (range, comparison, total,
-- completeness): `A + B <= C` gives (left, 1, A), (left, 2, B), (right, 1, C).
with sides as (
    select rule_id, 'left' as side, string_split(left_side, '+') as codes
    from {{ ref('int_validation_rules') }}
    where subject = 'item' and left_side is not null
        and kind in ('range', 'comparison', 'total', 'completeness')
    union all
    select rule_id, 'right' as side, string_split(right_side, '+') as codes
    from {{ ref('int_validation_rules') }}
    where subject = 'item' and right_side is not null and kind in ('comparison', 'total')
)

select
    rule_id,
    side,
    generate_subscripts(codes, 1) as position,
    unnest(codes) as item_code
from sides
