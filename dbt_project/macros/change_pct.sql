{#- The change from `previous` to `current` in %: (current - previous) / |previous| x 100.
    The denominator is the absolute value, so a fall is negative and a rise positive whatever
    the sign of `previous`; null when `previous` is 0 or null (or `current` is null).
    Used wherever a change or a difference in % is published or judged: mart_trends
    (change_pct), mart_participant_position (% from the median, overall and in the peer group)
    and the year-on-year rules (change_exceeded below, and the change quoted in a finding). -#}
{% macro change_pct(current, previous) -%}
    case when {{ previous }} <> 0 then ({{ current }} - {{ previous }}) / abs({{ previous }}) * 100 end
{%- endmacro %}

{#- Whether the change from `previous` to `current` exceeds threshold_pct % either way; from 0,
    any change does (the change in % is not defined there). -#}
{% macro change_exceeded(current, previous, threshold_pct) -%}
    case
        when {{ previous }} = 0 then {{ current }} <> 0
        else abs({{ change_pct(current, previous) }}) > {{ threshold_pct }}
    end
{%- endmacro %}
