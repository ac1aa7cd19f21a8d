-- Submitted values of the submission that counts, after disclosure control, with provenance.
select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(item_code as varchar) as item_code,
    cast({{ disclosed_count('value', 'is_person_count') }} as double) as value,
    cast(flag as varchar) as flag,
    cast(comment as varchar) as comment,
    cast(coalesce({{ is_small_count('value', 'is_person_count') }}, false) as boolean) as suppressed,
    cast(
        case when {{ is_small_count('value', 'is_person_count') }} then 'small_count' end as varchar
    ) as suppression_reason,
    cast(submission_id as varchar) as submission_id,
    cast(file_sha256 as varchar) as file_sha256,
    cast(source_place as varchar) as source_place
from {{ ref('int_return_values_latest') }}
