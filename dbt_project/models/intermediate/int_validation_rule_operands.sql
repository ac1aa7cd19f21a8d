{{ config(materialized="ephemeral") }}
-- One row per data item on each side of the rules about items (range, comparison, total,
-- completeness): `A + B <= C` gives (left, 1, A), (left, 2, B), (right, 1, C)
-- (macros/validation_rules.sql).
{{ validation_rule_operands(ref('int_validation_rules')) }}
