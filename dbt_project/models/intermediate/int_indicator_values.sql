-- Every indicator for every participant and year with a submission that counts, computed twice:
-- value_raw from the submitted counts (for content validation and the submitter's own report),
-- value from the published counts (macros/disclosure_control.sql: a count of 1-7 is suppressed,
-- a larger one rounded to 5), as NHS Digital's method says: a published rate times a public
-- population gives back the published count, never the exact one. fct_indicator_values
-- publishes value; validation errors are applied there. The multiplier is applied before the
-- division: 13 x 100000 / 200000 is exactly 6.5 in doubles, 13 / 200000 x 100000 is not.
-- An input flagged with a flag that means there is no value (seed flags, value_rule
-- must_be_blank: NA, NK) gives that flag as the null reason.
with flags_without_value as (
    select flag from {{ ref('flags') }} where value_rule = 'must_be_blank'
),

pairs as (
    select
        s.participant_code,
        s.collection_year,
        s.submission_id,
        s.coverage_note,
        i.indicator_code,
        i.numerator_item,
        i.denominator_item,
        i.denominator_population_band,
        i.multiplier,
        i.uses_ppp
    from {{ ref('int_latest_submissions') }} as s
    cross join {{ ref('indicators') }} as i
),

joined as (
    select
        p.*,
        n.value as numerator_raw,
        n.flag as numerator_flag,
        n.comment as numerator_comment,
        coalesce(n.is_person_count, false) as numerator_is_person_count,
        d.value as denominator_item_value,
        d.flag as denominator_flag,
        d.comment as denominator_comment,
        coalesce(d.is_person_count, false) as denominator_is_person_count,
        pop.population,
        ppp.ppp_per_usd
    from pairs as p
    left join {{ ref('int_return_values_latest') }} as n
        on p.participant_code = n.participant_code
        and p.collection_year = n.collection_year
        and p.numerator_item = n.item_code
    left join {{ ref('int_return_values_latest') }} as d
        on p.participant_code = d.participant_code
        and p.collection_year = d.collection_year
        and p.denominator_item = d.item_code
    left join {{ ref('population') }} as pop
        on p.participant_code = pop.participant_code
        and p.collection_year = pop.year
        and p.denominator_population_band = pop.age_band
    left join {{ ref('ppp') }} as ppp
        on p.participant_code = ppp.participant_code
        and p.collection_year = ppp.year
),

computed as (
    select
        *,
        case when uses_ppp then numerator_raw / ppp_per_usd else numerator_raw end as numerator_converted,
        case
            when denominator_item is not null then denominator_item_value
            else population
        end as denominator_raw
    from joined
),

published as (
    select
        *,
        coalesce({{ is_small_count('numerator_raw', 'numerator_is_person_count') }}, false) as small_numerator,
        coalesce({{ is_small_count('denominator_raw', 'denominator_is_person_count') }}, false)
            as small_denominator,
        {{ disclosed_count('numerator_converted', 'numerator_is_person_count') }} as numerator_published,
        {{ disclosed_count('denominator_raw', 'denominator_is_person_count') }} as denominator_published
    from computed
)

select
    participant_code,
    collection_year,
    indicator_code,
    submission_id,
    coverage_note,
    numerator_item,
    denominator_item,
    numerator_raw,
    numerator_converted,
    denominator_raw,
    numerator_is_person_count,
    denominator_is_person_count,
    numerator_flag,
    denominator_flag,
    numerator_comment,
    denominator_comment,
    uses_ppp,
    ppp_per_usd,
    small_numerator,
    small_denominator,
    numerator_published,
    denominator_published,
    case
        when numerator_converted is null or denominator_raw is null or denominator_raw = 0 then null
        else numerator_converted * multiplier / denominator_raw
    end as value_raw,
    case
        when numerator_published is null or denominator_published is null or denominator_published = 0
            then null
        else numerator_published * multiplier / denominator_published
    end as value,
    case
        when numerator_flag in (select flag from flags_without_value) then numerator_flag
        when denominator_flag in (select flag from flags_without_value) then denominator_flag
        when numerator_raw is null then 'numerator_missing'
        when denominator_raw is null then 'denominator_missing'
        when uses_ppp and ppp_per_usd is null then 'ppp_missing'
        when denominator_raw = 0 then 'denominator_zero'
    end as null_reason
from published
