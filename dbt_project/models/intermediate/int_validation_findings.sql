{{ config(materialized="ephemeral") }}
-- Every content rule that failed for a submission that counts, one row per submission, rule
-- and subject (the item or indicator the finding is about). A warning is explained when the
-- submitter commented on an item involved; an error cannot be explained away: it blocks the
-- items involved (int_validation_blocked_items) until a corrected return arrives.
-- Ephemeral: materialized once, as mart_validation_findings, which the data quality mart and
-- the blocked items read (one table less between the rules and the published marts).
with failed as (
    select * from {{ ref('int_rule_item_checks') }}
    union all by name
    select * from {{ ref('int_rule_indicator_checks') }}
    union all by name
    select * from {{ ref('int_rule_year_on_year') }}
    union all by name
    select * from {{ ref('int_rule_completeness') }}
)

select
    f.submission_id || ':' || f.rule_id || ':' || f.subject_code as finding_id,
    f.submission_id,
    f.participant_code,
    f.collection_year,
    f.rule_id,
    r.section,
    r.kind,
    r.severity,
    f.subject_code,
    f.message,
    f.items_involved,
    f.values_involved,
    f.comments as submitter_comment,
    r.severity = 'warning' and f.comments is not null as explained,
    r.description as rule_description
from failed as f
inner join {{ ref('int_validation_rules') }} as r on f.rule_id = r.rule_id
