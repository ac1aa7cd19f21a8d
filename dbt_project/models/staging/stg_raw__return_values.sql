-- One row per accepted submission and data item. Renames and casts only.
select
    cast(submission_id as varchar) as submission_id,
    upper(trim(participant_code)) as participant_code,
    cast(collection_year as integer) as collection_year,
    upper(trim(item_code)) as item_code,
    cast(value as double) as value,
    nullif(upper(trim(flag)), '') as flag,
    nullif(trim(comment), '') as comment,
    cast(source_place as varchar) as source_place
from {{ source('raw', 'return_values') }}
