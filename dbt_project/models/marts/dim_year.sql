-- The year dimension: one row per collection year of the collection calendar.
select
    cast(year as integer) as collection_year,
    cast(opens as date) as opens,
    cast(deadline as date) as deadline,
    cast(publication as date) as publication
from {{ ref('collection_calendar') }}
