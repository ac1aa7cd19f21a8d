-- Content validation findings as published: every finding of int_validation_findings with its
-- published text only (counts as published, "1-7" for a suppressed count, indicator values and
-- changes computed from published figures). The exact texts stay in the warehouse for the
-- submitter's own report. A release holds the findings of its own participant-years only
-- (int_release_scope: a final release, the approved ones): a finding quotes the data it is
-- about. The team reads every finding, of every submission that counts, in
-- int_validation_findings.
select
    finding_id,
    submission_id,
    participant_code,
    collection_year,
    rule_id,
    section,
    kind,
    severity,
    subject_code,
    message,
    items_involved,
    values_involved,
    submitter_comment,
    explained,
    blocks_release,
    rule_description
from {{ ref('int_validation_findings') }}
where submission_id in (select submission_id from {{ ref('int_release_scope') }})
