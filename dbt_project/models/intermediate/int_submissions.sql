-- Every file received, with what became of it: the submission that counts for its participant
-- and year (decided by int_latest_submissions, nowhere else), superseded by that one, held
-- (arrived for an approved, locked participant-year and not released by a reopen), or
-- rejected. Superseded is derived here on every build, never stored: the registry no longer
-- writes superseded events (older warehouses still hold some, as history).
select
    s.submission_id,
    s.participant_code,
    s.collection_year,
    s.original_filename,
    s.received_at,
    s.registration_status,
    coalesce(l.submission_id = s.submission_id, false) as counts,
    case
        when u.submission_id is not null and l.submission_id <> s.submission_id
            then l.submission_id
    end as superseded_by,
    case
        when l.submission_id = s.submission_id then 'counts'
        when u.submission_id is not null and l.submission_id is not null then 'superseded'
        else s.registration_status
    end as status
from {{ ref('stg_raw__submissions') }} as s
left join {{ ref('int_usable_submissions') }} as u on s.submission_id = u.submission_id
left join {{ ref('int_latest_submissions') }} as l
    on s.participant_code = l.participant_code
    and s.collection_year = l.collection_year
