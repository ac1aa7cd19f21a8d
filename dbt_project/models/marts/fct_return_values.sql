-- Submitted values of the submission that counts, after disclosure control, with provenance.
-- An item involved in an error finding of content validation is suppressed
-- (suppression_reason 'validation_error'); the rest of the return is published.
with v as (
    select
        r.*,
        b.item_code is not null as validation_error
    from {{ ref('int_return_values_latest') }} as r
    -- only the participant-years of this release (final: approved; draft: all accepted)
    inner join {{ ref('int_release_scope') }} as rs on r.submission_id = rs.submission_id
    left join {{ ref('int_validation_blocked_items') }} as b
        on r.submission_id = b.submission_id
        and r.item_code = b.item_code
)

select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(item_code as varchar) as item_code,
    cast(
        case when validation_error then null
        else {{ disclosed_count('value', 'is_person_count') }} end as double
    ) as value,
    cast(flag as varchar) as flag,
    cast(comment as varchar) as comment,
    cast(
        validation_error or coalesce({{ is_small_count('value', 'is_person_count') }}, false)
        as boolean
    ) as suppressed,
    cast(
        case
            when validation_error then 'validation_error'
            when {{ is_small_count('value', 'is_person_count') }} then 'small_count'
        end as varchar
    ) as suppression_reason,
    cast(submission_id as varchar) as submission_id,
    cast(file_sha256 as varchar) as file_sha256,
    cast(source_place as varchar) as source_place
from v
