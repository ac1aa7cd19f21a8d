-- One row per file received. Renames and casts only.
select
    cast(submission_id as varchar) as submission_id,
    cast(file_sha256 as varchar) as file_sha256,
    cast(original_filename as varchar) as original_filename,
    cast(inbox_year as integer) as inbox_year,
    cast(received_at as timestamp) as received_at,
    cast(file_format as varchar) as file_format,
    upper(trim(participant_code)) as participant_code,
    cast(collection_year as integer) as collection_year,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end,
    cast(currency as varchar) as currency,
    cast(template_version as varchar) as template_version,
    nullif(trim(coverage_note), '') as coverage_note,
    cast(status as varchar) as registration_status,
    cast(error_count as integer) as error_count,
    cast(warning_count as integer) as warning_count,
    cast(report_path as varchar) as report_path
from {{ source('raw', 'submissions') }}
