-- Data quality per participant and collection year: timeliness against the collection
-- calendar, resubmissions, rejected files, completeness of mandatory items (a value or NA is
-- complete; blank or NK is not) and the content findings of the submission that counts.
-- Every participant appears for every collection year that received at least one file.
with files as (
    select *
    from {{ ref('stg_raw__submissions') }}
    where participant_code is not null and collection_year is not null
),

years as (
    select distinct collection_year from files
),

grid as (
    select p.participant_code, y.collection_year
    from {{ ref('participants') }} as p
    cross join years as y
    union
    select distinct participant_code, collection_year from files
),

received as (
    select
        participant_code,
        collection_year,
        min(received_at) filter (where registration_status = 'accepted') as submitted_at,
        count(*) filter (where registration_status = 'accepted') as accepted_files,
        count(*) filter (where registration_status = 'rejected') as rejected_files
    from files
    group by participant_code, collection_year
),

mandatory as (
    select
        s.participant_code,
        s.collection_year,
        count(*) as mandatory_items,
        count(*) filter (where v.value is not null or v.flag = 'NA') as mandatory_complete
    from {{ ref('int_latest_submissions') }} as s
    cross join (select item_code from {{ ref('data_items') }} where mandatory) as i
    left join {{ ref('int_return_values_latest') }} as v
        on s.submission_id = v.submission_id
        and i.item_code = v.item_code
    group by s.participant_code, s.collection_year
),

findings as (
    select
        submission_id,
        count(*) filter (where severity = 'error') as errors_open,
        count(*) filter (where severity = 'warning' and not explained) as warnings_open,
        count(*) filter (where severity = 'warning' and explained) as warnings_explained
    from {{ ref('int_validation_findings') }}
    group by submission_id
)

select
    cast(g.participant_code as varchar) as participant_code,
    cast(g.collection_year as integer) as collection_year,
    cast(
        case
            when l.submission_id is not null then 'submitted'
            when r.rejected_files > 0 then 'rejected'
            else 'not_submitted'
        end as varchar
    ) as status,
    cast(l.submission_id as varchar) as submission_id,
    cast(r.submitted_at as timestamp) as submitted_at,
    cast(l.received_at as timestamp) as latest_submission_at,
    cast(c.deadline as date) as deadline,
    cast(
        case
            when c.deadline is null then null
            else coalesce(cast(r.submitted_at as date) <= c.deadline, false)
        end as boolean
    ) as on_time,
    cast(greatest(coalesce(r.accepted_files, 0) - 1, 0) as integer) as resubmissions,
    cast(coalesce(r.rejected_files, 0) as integer) as rejected_files,
    cast(m.mandatory_items as integer) as mandatory_items,
    cast(m.mandatory_complete as integer) as mandatory_complete,
    cast(round(100.0 * m.mandatory_complete / nullif(m.mandatory_items, 0), 1) as double)
        as completeness_pct,
    cast(case when l.submission_id is null then null else coalesce(f.errors_open, 0) end as integer)
        as errors_open,
    cast(case when l.submission_id is null then null else coalesce(f.warnings_open, 0) end as integer)
        as warnings_open,
    cast(
        case when l.submission_id is null then null else coalesce(f.warnings_explained, 0) end
        as integer
    ) as warnings_explained,
    cast(case when w.signoff_holds then w.signed_off_at end as timestamp) as signed_off_at,
    cast(case when w.approval_holds then w.approved_at end as timestamp) as approved_at
from grid as g
left join received as r
    on g.participant_code = r.participant_code
    and g.collection_year = r.collection_year
left join {{ ref('int_latest_submissions') }} as l
    on g.participant_code = l.participant_code
    and g.collection_year = l.collection_year
left join mandatory as m
    on g.participant_code = m.participant_code
    and g.collection_year = m.collection_year
left join findings as f on l.submission_id = f.submission_id
left join {{ ref('collection_calendar') }} as c on g.collection_year = c.year
left join {{ ref('int_collection_state') }} as w
    on g.participant_code = w.participant_code
    and g.collection_year = w.collection_year
