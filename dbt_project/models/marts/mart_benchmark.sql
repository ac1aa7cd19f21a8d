-- Benchmark statistics per indicator and year over participants with a published value
-- (not null, not suppressed): macros/benchmark_statistics.sql (quartiles as Excel PERCENTILE.INC).
select
    cast(indicator_code as varchar) as indicator_code,
    cast(collection_year as integer) as collection_year,
    {{ benchmark_statistics('value') }}
from {{ ref('fct_indicator_values') }}
where value is not null
group by indicator_code, collection_year
