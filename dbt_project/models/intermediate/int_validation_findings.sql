-- Content validation findings of the submissions that count: every content rule that failed,
-- one row per submission, rule and subject (the item or indicator the finding is about). A
-- warning is explained when the submitter commented on an item involved; an error cannot be
-- explained away: it blocks the items involved (int_validation_blocked_items) until a corrected
-- return arrives. The rule kinds are evaluated by the ephemeral models int_rule_*; the findings
-- are materialized once, here, with two texts each (macros/validation_findings.sql):
-- message_exact / values_involved_exact quote the values as submitted and go only to the
-- submitter's own report (reporting/findings.py); message / values_involved quote published
-- figures only and are what mart_validation_findings publishes. Not published itself.
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
    cast(f.submission_id || ':' || f.rule_id || ':' || f.subject_code as varchar) as finding_id,
    cast(f.submission_id as varchar) as submission_id,
    cast(f.participant_code as varchar) as participant_code,
    cast(f.collection_year as integer) as collection_year,
    cast(f.rule_id as varchar) as rule_id,
    cast(r.section as varchar) as section,
    cast(r.kind as varchar) as kind,
    cast(r.severity as varchar) as severity,
    cast(f.subject_code as varchar) as subject_code,
    cast(f.message as varchar) as message,
    cast(array_to_string(f.items_involved, ', ') as varchar) as items_involved,
    cast(array_to_string(f.values_involved, ', ') as varchar) as values_involved,
    cast(f.message_exact as varchar) as message_exact,
    cast(array_to_string(f.values_involved_exact, ', ') as varchar) as values_involved_exact,
    cast(f.involves_small_count as boolean) as involves_small_count,
    cast(f.comments as varchar) as submitter_comment,
    cast(r.severity = 'warning' and f.comments is not null as boolean) as explained,
    cast(r.severity = 'error' as boolean) as blocks_release,
    cast(r.description as varchar) as rule_description
from failed as f
inner join {{ ref('int_validation_rules') }} as r on f.rule_id = r.rule_id
