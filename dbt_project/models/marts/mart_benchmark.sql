-- Benchmark statistics per indicator and year over participants with a published value
-- (not null, not suppressed). Quartiles use linear interpolation, as Excel PERCENTILE.INC.
select
    cast(indicator_code as varchar) as indicator_code,
    cast(collection_year as integer) as collection_year,
    cast(count(value) as integer) as n,
    cast(min(value) as double) as min,
    cast(quantile_cont(value, 0.25) as double) as p25,
    cast(quantile_cont(value, 0.5) as double) as median,
    cast(quantile_cont(value, 0.75) as double) as p75,
    cast(max(value) as double) as max,
    cast(avg(value) as double) as mean
from {{ ref('fct_indicator_values') }}
where value is not null
group by indicator_code, collection_year
