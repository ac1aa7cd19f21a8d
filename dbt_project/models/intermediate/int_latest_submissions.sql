-- The submission that counts for each participant and collection year: of its accepted
-- submissions, the one received last (received_at: when the file landed in the inbox); on a
-- tie, the highest submission_id, so the choice never depends on the order rows are read.
-- Rejected files and files still held (arrived for a locked participant-year) never count:
-- see int_usable_submissions. A view, so the workflow state is current between builds.
-- This model is the only place that decides it: ingestion registers every file and decides
-- nothing; int_submissions says, for every other accepted
-- file, which one superseded it.
{{ config(materialized='view') }}
select
    submission_id,
    file_sha256,
    original_filename,
    received_at,
    participant_code,
    collection_year,
    period_start,
    period_end,
    coverage_note
from {{ ref('int_usable_submissions') }}
qualify row_number() over (
    partition by participant_code, collection_year
    order by received_at desc, submission_id desc
) = 1
