{#- Text helpers for content validation findings (models int_rule_*). Every finding has two
    texts: the exact one, for the submitter's own report (not published), quotes the values as
    submitted; the published one (mart_validation_findings) quotes only published figures: a
    person/event count rounded as disclosure control publishes it, "1-7" for a suppressed count,
    an indicator value computed from the published counts, and a change only between two
    published figures. The macros taking `published` (true/false) write one or the other. -#}

{% macro fmt_number(x) -%}
    case
        when {{ x }} is null then null
        when {{ x }} = round({{ x }}) and abs({{ x }}) < 1e18 then cast(cast({{ x }} as hugeint) as varchar)
        else cast(round({{ x }}, 2) as varchar)
    end
{%- endmacro %}

{#- A submitted value as shown in a finding, or the flag (NA / NK) or "missing" when there is no
    value. Exact: the number as submitted. Published: the count as disclosure control publishes
    it (macros/disclosure_control.sql), "1-7" for a small count. -#}
{% macro shown_value(value, flag, is_person_count, published) -%}
    case
        when {{ value }} is null then coalesce({{ flag }}, 'missing')
        {%- if published %}
        when coalesce({{ is_small_count(value, is_person_count) }}, false)
            then '1-{{ var("suppress_max") }}'
        else {{ fmt_number(disclosed_count(value, is_person_count)) }}
        {%- else %}
        else {{ fmt_number(value) }}
        {%- endif %}
    end
{%- endmacro %}

{#- "between 0 and 110", ">= 1" or "<= 25" for a range rule. -#}
{% macro range_text(min_value, max_value) -%}
    case
        when {{ min_value }} is not null and {{ max_value }} is not null
            then 'between ' || {{ fmt_number(min_value) }} || ' and ' || {{ fmt_number(max_value) }}
        when {{ min_value }} is not null then '>= ' || {{ fmt_number(min_value) }}
        else '<= ' || {{ fmt_number(max_value) }}
    end
{%- endmacro %}

{#- Whether a range rule holds for `value`. -#}
{% macro in_range(value, min_value, max_value) -%}
    (({{ min_value }} is null or {{ value }} >= {{ min_value }})
        and ({{ max_value }} is null or {{ value }} <= {{ max_value }}))
{%- endmacro %}

{#- Whether a rule is skipped, given how many of its values are there (DHIS2 strategies). -#}
{% macro rule_skipped(strategy, n_present, n_values) -%}
    case {{ strategy }}
        when 'SKIP_IF_ANY_VALUE_MISSING' then {{ n_present }} < {{ n_values }}
        when 'SKIP_IF_ALL_VALUES_MISSING' then {{ n_present }} = 0
        else false
    end
{%- endmacro %}

{#- For rules on an indicator (a row `v` of int_indicator_values): the data items it is
    computed from, their values as shown, the submitter's comments on them, and the
    indicator value as shown ("suppressed" when computed from a small count). -#}
{% macro indicator_items_involved(v) -%}
    case when {{ v }}.denominator_item is null then [{{ v }}.numerator_item]
    else [{{ v }}.numerator_item, {{ v }}.denominator_item] end
{%- endmacro %}

{% macro indicator_values_involved(v, published) -%}
    case when {{ v }}.denominator_item is null
        then [{{ shown_value(v ~ '.numerator_raw', v ~ '.numerator_flag', v ~ '.numerator_is_person_count', published) }}]
    else [
        {{ shown_value(v ~ '.numerator_raw', v ~ '.numerator_flag', v ~ '.numerator_is_person_count', published) }},
        {{ shown_value(v ~ '.denominator_raw', v ~ '.denominator_flag', v ~ '.denominator_is_person_count', published) }}
    ] end
{%- endmacro %}

{% macro indicator_comments(v) -%}
    nullif(concat_ws('; ',
        {{ v }}.numerator_item || ': ' || {{ v }}.numerator_comment,
        {{ v }}.denominator_item || ': ' || {{ v }}.denominator_comment
    ), '')
{%- endmacro %}

{#- An indicator value of a row `v` of int_indicator_values as shown in a finding. Exact: value_raw
    (from the submitted counts). Published: value (from the published counts), "suppressed"
    when an input is a small count. -#}
{% macro indicator_shown(v, published) -%}
    case
        when {{ v }}.value_raw is null then coalesce({{ v }}.null_reason, 'missing')
        {%- if published %}
        when {{ v }}.value is null then 'suppressed'
        else {{ fmt_number(v ~ '.value') }}
        {%- else %}
        else {{ fmt_number(v ~ '.value_raw') }}
        {%- endif %}
    end
{%- endmacro %}

{#- "(from AA_OBD 1234 and AA_ABD 1000)", from the lists items_involved and values_involved. -#}
{% macro inputs_text(items_involved, values_involved) -%}
    '(from ' || array_to_string(list_transform(
        list_zip({{ items_involved }}, {{ values_involved }}), lambda p: p[1] || ' ' || p[2]
    ), ' and ') || ')'
{%- endmacro %}

{#- The message of a year-on-year rule (items and indicators); the change in % and whether it
    exceeds the threshold are macros/change_pct.sql. -#}
{% macro change_message(subject_code, change_pct, previous_shown, current_shown, collection_year, threshold_pct) -%}
    {{ subject_code }} || ' changed '
    || case
        when {{ change_pct }} is null then ''
        else 'by ' || case when {{ change_pct }} > 0 then '+' else '' end
            || cast(round({{ change_pct }}, 1) as varchar) || '% '
    end
    || 'from ' || {{ previous_shown }} || ' (' || cast({{ collection_year }} - 1 as varchar) || ') to '
    || {{ current_shown }} || ' (' || cast({{ collection_year }} as varchar) || '): more than '
    || {{ fmt_number(threshold_pct) }} || '% needs a comment'
{%- endmacro %}
