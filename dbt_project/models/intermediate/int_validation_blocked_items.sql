{{ config(materialized="ephemeral") }}
-- Submitted items kept out of the release: every item involved in an error finding of the
-- submission that counts. fct_return_values suppresses them and fct_indicator_values every
-- indicator computed from them (suppression_reason 'validation_error').
-- Read from the published findings (items_involved is comma-separated there; item codes have
-- no commas or spaces), so what is suppressed is exactly what mart_validation_findings shows as
-- blocking. Ephemeral: a few hundred rows aggregated inside the two marts that read them.
select
    submission_id,
    participant_code,
    collection_year,
    item_code,
    string_agg(distinct rule_id, ', ' order by rule_id) as rule_ids
from (
    select
        submission_id,
        participant_code,
        collection_year,
        rule_id,
        unnest(string_split(items_involved, ', ')) as item_code
    from {{ ref('int_validation_findings') }}
    where severity = 'error'
)
group by submission_id, participant_code, collection_year, item_code
