select
    cast(indicator_code as varchar) as indicator_code,
    cast(section as varchar) as section,
    cast(indicator_name as varchar) as indicator_name,
    cast(numerator_item as varchar) as numerator_item,
    cast(denominator_item as varchar) as denominator_item,
    cast(denominator_population_band as varchar) as denominator_population_band,
    cast(multiplier as double) as multiplier,
    cast(unit_label as varchar) as unit_label,
    cast(higher_is_better as boolean) as higher_is_better,
    cast(uses_ppp as boolean) as uses_ppp,
    cast(definition as varchar) as definition
from {{ ref('indicators') }}
