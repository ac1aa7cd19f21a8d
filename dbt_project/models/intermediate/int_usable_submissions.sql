-- The submissions that may count for their participant and year: every accepted file, and a
-- file held because it arrived for an approved (locked) participant-year once a reopen has
-- released it (a `release_held` workflow event). Rejected files and files still held never
-- count. int_latest_submissions picks the one that counts among these.
{{ config(materialized='view') }}
select s.*
from {{ ref('stg_raw__submissions') }} as s
where s.participant_code is not null
    and s.collection_year is not null
    and (
        s.registration_status = 'accepted'
        or (
            s.registration_status = 'held'
            and s.submission_id in (
                select submission_id from {{ ref('stg_raw__workflow_events') }}
                where action = 'release_held'
            )
        )
    )
