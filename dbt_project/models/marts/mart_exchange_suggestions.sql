-- Exchange suggestions (DESIGN.md, "Lines of enquiry"): pairs of participants alike in context
-- but far apart on the indicators of one section, per year: candidates for exchange visits.
-- Context: total population (the published denominator of the context indicator, mental health
-- spend per head, a population of all ages) and mental health spend per head (its value).
-- Alike: populations within a factor of var exchange_max_population_ratio, spend per head
-- within var exchange_max_spend_difference of the lower of the two.
-- Far apart: the mean, over the section's indicators where both have a published value (at
-- least 2), of the absolute difference of their distances from the median in IQR units
-- (mart_lines_of_enquiry.distance_iqr), at least var exchange_min_gap_iqr. The context
-- indicator itself is left out of the gap. Only published values take part.
with context as (
    select
        participant_code,
        collection_year,
        denominator as population,
        value as spend_per_head
    from {{ ref('fct_indicator_values') }}
    where indicator_code = '{{ var("exchange_context_indicator") }}'
        and value is not null
        and denominator is not null
),

alike as (
    select
        a.collection_year,
        a.participant_code as participant_a,
        b.participant_code as participant_b,
        a.population as population_a,
        b.population as population_b,
        a.spend_per_head as spend_per_head_a,
        b.spend_per_head as spend_per_head_b
    from context as a
    inner join context as b
        on a.collection_year = b.collection_year
        and a.participant_code < b.participant_code
    where greatest(a.population, b.population) / least(a.population, b.population)
        <= {{ var('exchange_max_population_ratio') }}
        and abs(a.spend_per_head - b.spend_per_head) / least(a.spend_per_head, b.spend_per_head)
        <= {{ var('exchange_max_spend_difference') }}
),

gaps as (
    select
        p.collection_year,
        ea.section,
        p.participant_a,
        p.participant_b,
        ea.indicator_code,
        abs(ea.distance_iqr - eb.distance_iqr) as gap_iqr
    from alike as p
    inner join {{ ref('mart_lines_of_enquiry') }} as ea
        on p.participant_a = ea.participant_code
        and p.collection_year = ea.collection_year
    inner join {{ ref('mart_lines_of_enquiry') }} as eb
        on p.participant_b = eb.participant_code
        and p.collection_year = eb.collection_year
        and ea.indicator_code = eb.indicator_code
    where ea.distance_iqr is not null
        and eb.distance_iqr is not null
        and ea.indicator_code <> '{{ var("exchange_context_indicator") }}'
),

by_section as (
    select
        collection_year,
        section,
        participant_a,
        participant_b,
        count(*) as n_indicators,
        avg(gap_iqr order by gap_iqr) as mean_gap_iqr,
        list(indicator_code order by gap_iqr desc, indicator_code)[1] as widest_indicator,
        max(gap_iqr) as widest_gap_iqr
    from gaps
    group by collection_year, section, participant_a, participant_b
    having count(*) >= 2
)

select
    cast(s.collection_year as integer) as collection_year,
    cast(s.section as varchar) as section,
    cast(s.participant_a as varchar) as participant_a,
    cast(s.participant_b as varchar) as participant_b,
    cast(p.population_a as double) as population_a,
    cast(p.population_b as double) as population_b,
    cast(p.spend_per_head_a as double) as spend_per_head_a,
    cast(p.spend_per_head_b as double) as spend_per_head_b,
    cast(s.n_indicators as integer) as n_indicators,
    cast(round(s.mean_gap_iqr, 4) as double) as mean_gap_iqr,
    cast(s.widest_indicator as varchar) as widest_indicator,
    cast(round(s.widest_gap_iqr, 4) as double) as widest_gap_iqr,
    cast(
        row_number() over (
            partition by s.collection_year
            order by s.mean_gap_iqr desc, s.section, s.participant_a, s.participant_b
        ) as integer
    ) as suggestion_rank
from by_section as s
inner join alike as p
    on s.collection_year = p.collection_year
    and s.participant_a = p.participant_a
    and s.participant_b = p.participant_b
where s.mean_gap_iqr >= {{ var('exchange_min_gap_iqr') }}
