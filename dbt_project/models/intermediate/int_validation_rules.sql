{{ config(materialized="ephemeral") }}
-- Content validation rules (seed validation_rules) with codes normalised and defaults filled:
-- factor 1 (1.5 x IQR for peer outliers), tolerance 0 % (macros/validation_rules.sql).
{{ normalised_validation_rules(ref('validation_rules')) }}
