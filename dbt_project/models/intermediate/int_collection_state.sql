-- The collection workflow's state of each participant-year (DESIGN.md, "The collection
-- workflow"), derived from the registry and the append-only workflow events; nothing here is
-- stored. A view, so an action (sign-off, approval, ...) shows at once, without a build.
--
-- Sign-off and approval name the submission they apply to: they hold only while that
-- submission is still the one that counts, and only if no reopen came after them. Published:
-- the approved submission went out in a final release after the last reopen.
-- Precedence: published > approved > signed_off > queried > accepted.
{{ config(materialized='view') }}
with files as (
    select * from {{ ref('stg_raw__submissions') }}
    where participant_code is not null and collection_year is not null
),

events as (
    select * from {{ ref('stg_raw__workflow_events') }}
),

grid as (
    select p.participant_code, y.collection_year
    from {{ ref('participants') }} as p
    cross join (
        select collection_year from files
        union
        select collection_year from events
    ) as y
    union
    select participant_code, collection_year from files
),

file_counts as (
    select
        f.participant_code,
        f.collection_year,
        count(*) filter (where f.registration_status = 'rejected') as rejected_files,
        count(*) filter (
            where f.registration_status = 'held' and u.submission_id is null
        ) as held_files
    from files as f
    left join {{ ref('int_usable_submissions') }} as u on f.submission_id = u.submission_id
    group by f.participant_code, f.collection_year
),

reopened as (
    select
        participant_code,
        collection_year,
        max(recorded_at) as reopened_at,
        arg_max(by_name, recorded_at) as reopened_by,
        arg_max(text, recorded_at) as reopen_reason
    from events
    where action = 'reopen'
    group by participant_code, collection_year
),

-- the latest sign-off and approval since the last reopen
decisions as (
    select e.*
    from events as e
    left join reopened as r
        on e.participant_code = r.participant_code
        and e.collection_year = r.collection_year
    where e.action in ('signoff', 'approve')
        and (r.reopened_at is null or e.recorded_at > r.reopened_at)
    qualify row_number() over (
        partition by e.participant_code, e.collection_year, e.action
        order by e.recorded_at desc, e.event_id desc
    ) = 1
),

signoff as (select * from decisions where action = 'signoff'),

approval as (select * from decisions where action = 'approve'),

published as (
    select
        e.submission_id,
        max(e.event_at) as published_at,
        arg_max(e.detail, e.event_at) as release_id
    from {{ ref('stg_raw__submission_events') }} as e
    where e.status = 'published'
    group by e.submission_id
),

queries as (
    select
        participant_code,
        collection_year,
        query_id,
        bool_or(action = 'close') as closed
    from events
    where action in ('ask', 'answer', 'close')
    group by participant_code, collection_year, query_id
),

open_queries as (
    select
        participant_code,
        collection_year,
        count(*) as open_queries,
        string_agg(query_id, ', ' order by cast(substr(query_id, 3) as integer)) as open_query_ids
    from queries
    where not closed
    group by participant_code, collection_year
),

open_errors as (
    select
        submission_id,
        count(*) as open_errors,
        string_agg(distinct rule_id, ', ' order by rule_id) as open_error_rules
    from {{ ref('int_validation_findings') }}
    where severity = 'error'
    group by submission_id
),

-- the submissions content validation has run on (int_return_values_latest is built with the
-- findings): a submission that arrived since the last build has not been checked yet
checked as (
    select distinct submission_id from {{ ref('int_return_values_latest') }}
),

joined as (
    select
        g.participant_code,
        g.collection_year,
        l.submission_id as latest_submission_id,
        l.received_at as latest_received_at,
        coalesce(c.rejected_files, 0) as rejected_files,
        coalesce(c.held_files, 0) as held_files,
        s.submission_id as signed_off_submission_id,
        s.by_name as signed_off_by,
        s.recorded_at as signed_off_at,
        s.text as signoff_note,
        s.submission_id = l.submission_id as signoff_holds,
        a.submission_id as approved_submission_id,
        a.by_name as approved_by,
        a.recorded_at as approved_at,
        case when a.is_override then a.text end as approval_override,
        a.submission_id = l.submission_id as approval_holds,
        p.release_id as published_release_id,
        p.published_at,
        r.reopened_at,
        r.reopened_by,
        r.reopen_reason,
        case when l.submission_id is not null then coalesce(oe.open_errors, 0) end as open_errors,
        oe.open_error_rules,
        coalesce(oq.open_queries, 0) as open_queries,
        ck.submission_id is not null as checked,
        oq.open_query_ids,
        coalesce(
            p.release_id is not null
            and (r.reopened_at is null or p.published_at > r.reopened_at),
            false
        ) as published_since_reopen
    from grid as g
    left join {{ ref('int_latest_submissions') }} as l
        on g.participant_code = l.participant_code
        and g.collection_year = l.collection_year
    left join file_counts as c
        on g.participant_code = c.participant_code
        and g.collection_year = c.collection_year
    left join signoff as s
        on g.participant_code = s.participant_code
        and g.collection_year = s.collection_year
    left join approval as a
        on g.participant_code = a.participant_code
        and g.collection_year = a.collection_year
    left join published as p on l.submission_id = p.submission_id
    left join reopened as r
        on g.participant_code = r.participant_code
        and g.collection_year = r.collection_year
    left join open_errors as oe on l.submission_id = oe.submission_id
    left join checked as ck on l.submission_id = ck.submission_id
    left join open_queries as oq
        on g.participant_code = oq.participant_code
        and g.collection_year = oq.collection_year
)

select
    *,
    case
        when latest_submission_id is null and rejected_files > 0 then 'rejected'
        when latest_submission_id is null then 'not_received'
        when coalesce(approval_holds, false) and published_since_reopen then 'published'
        when coalesce(approval_holds, false) then 'approved'
        when coalesce(signoff_holds, false) then 'signed_off'
        when open_errors > 0 or open_queries > 0 then 'queried'
        else 'accepted'
    end as state,
    nullif(concat_ws('; ',
        case when not signoff_holds then
            'signed off submission ' || signed_off_submission_id || '; '
            || latest_submission_id || ' arrived since' end,
        case when not approval_holds then
            'approved submission ' || approved_submission_id || '; '
            || latest_submission_id || ' arrived since' end,
        case when reopened_at is not null and approved_submission_id is null then
            'reopened by ' || reopened_by || ': ' || reopen_reason end,
        case when latest_submission_id is not null and not checked then
            'submission ' || latest_submission_id || ' not checked yet (the next run does it)' end,
        case when held_files > 0 then
            held_files || ' file(s) held until the participant-year is reopened' end,
        case when approval_override is not null then
            'approved with an override: ' || approval_override end
    ), '') as state_note
from joined
