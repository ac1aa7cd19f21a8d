-- The collection's working status per participant and year, for the data team (CLI, UI,
-- status report). Built in the warehouse, never published in an analysts' release: a final
-- release's manifest lists the participant-years it included and left out instead.
-- A view over int_collection_state, so a sign-off or an approval shows at once.
{{ config(materialized='view') }}
select
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(state as varchar) as state,
    cast(state_note as varchar) as state_note,
    cast(state in ('approved', 'published') as boolean) as locked,
    cast(latest_submission_id as varchar) as latest_submission_id,
    cast(latest_received_at as timestamp) as latest_received_at,
    cast(signed_off_submission_id as varchar) as signed_off_submission_id,
    cast(signed_off_by as varchar) as signed_off_by,
    cast(signed_off_at as timestamp) as signed_off_at,
    cast(signoff_note as varchar) as signoff_note,
    cast(approved_submission_id as varchar) as approved_submission_id,
    cast(approved_by as varchar) as approved_by,
    cast(approved_at as timestamp) as approved_at,
    cast(approval_override as varchar) as approval_override,
    cast(published_release_id as varchar) as published_release_id,
    cast(reopened_by as varchar) as reopened_by,
    cast(reopened_at as timestamp) as reopened_at,
    cast(reopen_reason as varchar) as reopen_reason,
    cast(checked as boolean) as checked,
    cast(open_errors as integer) as open_errors,
    cast(open_error_rules as varchar) as open_error_rules,
    cast(open_queries as integer) as open_queries,
    cast(open_query_ids as varchar) as open_query_ids,
    cast(held_files as integer) as held_files,
    cast(rejected_files as integer) as rejected_files
from {{ ref('int_collection_state') }}
