-- Status history of each submission. Renames and casts only.
select
    cast(submission_id as varchar) as submission_id,
    cast(status as varchar) as status,
    cast(event_at as timestamp) as event_at,
    cast(detail as varchar) as detail
from {{ source('raw', 'submission_events') }}
