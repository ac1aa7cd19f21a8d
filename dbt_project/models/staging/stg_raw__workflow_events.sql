-- The collection workflow's events (workflow/events.py). Renames and casts only.
select
    cast(event_id as varchar) as event_id,
    cast(action as varchar) as action,
    upper(trim(participant_code)) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(submission_id as varchar) as submission_id,
    cast(query_id as varchar) as query_id,
    upper(trim(item_code)) as item_code,
    cast(by_name as varchar) as by_name,
    cast(text as varchar) as text,
    cast(is_override as boolean) as is_override,
    cast(recorded_at as timestamp) as recorded_at,
    cast(os_user as varchar) as os_user,
    cast(host as varchar) as host
from {{ source('raw', 'workflow_events') }}
