-- The submission that counts for each participant and year: the latest accepted one.
-- Earlier accepted submissions are superseded; rejected files never count.
select
    submission_id,
    file_sha256,
    original_filename,
    received_at,
    participant_code,
    collection_year,
    period_start,
    period_end,
    coverage_note
from {{ ref('stg_raw__submissions') }}
where registration_status = 'accepted'
qualify row_number() over (
    partition by participant_code, collection_year
    order by received_at desc, submission_id desc
) = 1
