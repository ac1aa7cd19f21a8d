-- The participant-years a release holds (DESIGN.md, "Release kinds"), by the dbt var
-- `release_kind`: a final release holds approved (or already published) participant-years
-- only; a draft holds every participant-year with a submission that counts. Benchmarks, ranks
-- and trends are computed over these alone. Validation findings and data quality cover every
-- submission whatever the kind: submitters need them before approval. A table: the scope is
-- frozen when the release is built, so the gate and the manifest judge what dbt built even if
-- an approval is recorded meanwhile.
select participant_code, collection_year, latest_submission_id as submission_id, state
from {{ ref('int_collection_state') }}
where latest_submission_id is not null
{% if var('release_kind', 'final') == 'final' %}
    and state in ('approved', 'published')
{% elif var('release_kind') != 'draft' %}
    {{ exceptions.raise_compiler_error("var release_kind must be final or draft, not " ~ var('release_kind')) }}
{% endif %}
