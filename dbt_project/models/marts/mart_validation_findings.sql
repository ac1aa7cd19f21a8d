-- Content validation findings of the submissions that count: one row per submission, rule and
-- subject, with a message that quotes the values involved (small counts shown as a range).
select
    cast(finding_id as varchar) as finding_id,
    cast(submission_id as varchar) as submission_id,
    cast(participant_code as varchar) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(rule_id as varchar) as rule_id,
    cast(section as varchar) as section,
    cast(kind as varchar) as kind,
    cast(severity as varchar) as severity,
    cast(subject_code as varchar) as subject_code,
    cast(message as varchar) as message,
    cast(array_to_string(items_involved, ', ') as varchar) as items_involved,
    cast(array_to_string(values_involved, ', ') as varchar) as values_involved,
    cast(submitter_comment as varchar) as submitter_comment,
    cast(explained as boolean) as explained,
    cast(severity = 'error' as boolean) as blocks_release,
    cast(rule_description as varchar) as rule_description
from {{ ref('int_validation_findings') }}
