select
    cast(participant_code as varchar) as participant_code,
    cast(participant_name as varchar) as participant_name,
    cast(currency as varchar) as currency,
    cast(fiscal_year_start_month as integer) as fiscal_year_start_month,
    cast(
        case
            when fiscal_year_start_month = 1 then 'calendar year'
            else 'financial year starting ' || strftime(make_date(2000, fiscal_year_start_month, 1), '%B')
        end as varchar
    ) as fiscal_year_basis,
    cast(peer_group as varchar) as peer_group
from {{ ref('participants') }}
