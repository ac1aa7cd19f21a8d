{#- Disclosure control of person/event counts (DESIGN.md): counts 1..suppress_max are
    suppressed, larger counts are rounded to the nearest round_to; 0 is shown as 0.
    Beds, WTE, days and money (is_person_count = false) are never touched. -#}
{% macro is_small_count(value, is_person_count) -%}
    ({{ is_person_count }} and {{ value }} >= 1 and {{ value }} <= {{ var('suppress_max') }})
{%- endmacro %}

{% macro disclosed_count(value, is_person_count) -%}
    case
        when {{ is_small_count(value, is_person_count) }} then null
        when {{ is_person_count }} and {{ value }} is not null
            then round({{ value }} / {{ var('round_to') }}) * {{ var('round_to') }}
        else {{ value }}
    end
{%- endmacro %}
