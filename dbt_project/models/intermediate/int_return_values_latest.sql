-- Values of the submission that counts, with their provenance and dictionary attributes.
select
    v.participant_code,
    v.collection_year,
    v.item_code,
    v.value,
    v.flag,
    v.comment,
    s.submission_id,
    s.file_sha256,
    v.source_place,
    i.unit,
    i.is_person_count
from {{ ref('stg_raw__return_values') }} as v
inner join {{ ref('int_latest_submissions') }} as s
    on v.submission_id = s.submission_id
inner join {{ ref('data_items') }} as i
    on v.item_code = i.item_code
