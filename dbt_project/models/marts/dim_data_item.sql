select
    cast(item_code as varchar) as item_code,
    cast(section as varchar) as section,
    cast(item_name as varchar) as item_name,
    cast(unit as varchar) as unit,
    cast(age_band as varchar) as age_band,
    cast(is_person_count as boolean) as is_person_count,
    cast(mandatory as boolean) as mandatory,
    cast(lower_bound as double) as lower_bound,
    cast(upper_bound as double) as upper_bound,
    cast(definition as varchar) as definition
from {{ ref('data_items') }}
