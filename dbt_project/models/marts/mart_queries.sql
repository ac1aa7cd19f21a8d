-- Queries: the data team's questions to a submitter on a participant-year (optionally one
-- item), their answers and whether they are closed. Correspondence with submitters that may
-- quote exact figures: built in the warehouse for the team, never published in a release.
-- A view over the workflow events, current after every action.
{{ config(materialized='view') }}
with events as (
    select * from {{ ref('stg_raw__workflow_events') }}
    where action in ('ask', 'answer', 'close')
),

asked as (
    select * from events where action = 'ask'
),

answers as (
    select
        query_id,
        list(
            struct_pack(by_name := by_name, answered_at := recorded_at, text := text)
            order by recorded_at, event_id
        ) as answers,
        count(*) as answer_count,
        max(recorded_at) as last_answered_at
    from events
    where action = 'answer'
    group by query_id
),

closed as (
    select query_id, arg_max(by_name, recorded_at) as closed_by, max(recorded_at) as closed_at
    from events
    where action = 'close'
    group by query_id
)

select
    cast(a.query_id as varchar) as query_id,
    cast(a.participant_code as varchar) as participant_code,
    cast(a.collection_year as integer) as collection_year,
    cast(a.item_code as varchar) as item_code,
    cast(a.by_name as varchar) as raised_by,
    cast(a.recorded_at as timestamp) as raised_at,
    cast(a.text as varchar) as text,
    cast(coalesce(n.answer_count, 0) as integer) as answer_count,
    n.answers as answers,
    cast(n.last_answered_at as timestamp) as last_answered_at,
    cast(c.closed_by as varchar) as closed_by,
    cast(c.closed_at as timestamp) as closed_at,
    cast(
        case
            when c.query_id is not null then 'closed'
            when n.query_id is not null then 'answered'
            else 'open'
        end as varchar
    ) as state
from asked as a
left join answers as n on a.query_id = n.query_id
left join closed as c on a.query_id = c.query_id
