{#- The benchmark statistics of `value` over the rows of a group (DESIGN.md, "Statistics"):
    n, min, p25, median, p75, max, mean, as the select-list of a grouped query. Null values do
    not count (the callers pass the published value, or the unrounded value_raw of the
    peer-outlier rule). Quartiles and median are quantile_cont: linear interpolation between
    the two nearest ranks, the same as Excel PERCENTILE.INC (numpy's default percentile).
    The mean adds the values in ascending order: a sum of doubles depends on the order of its
    terms (in the last bits), and the order rows reach an aggregate depends on how DuckDB
    scheduled the upstream models, so a plain avg() gave a different last bit from one build
    of the same data to the next. mart_benchmark, mart_benchmark_peer_group and the
    peer-outlier rule (int_rule_indicator_checks) all use this macro, so the published
    statistics and the rule that flags outliers cannot drift apart. -#}
{% macro benchmark_statistics(value) -%}
    cast(count({{ value }}) as integer) as n,
    cast(min({{ value }}) as double) as min,
    cast(quantile_cont({{ value }}, 0.25) as double) as p25,
    cast(quantile_cont({{ value }}, 0.5) as double) as median,
    cast(quantile_cont({{ value }}, 0.75) as double) as p75,
    cast(max({{ value }}) as double) as max,
    cast(avg({{ value }} order by {{ value }}) as double) as mean
{%- endmacro %}
