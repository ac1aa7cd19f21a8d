{#- A key made of several columns is unique (dbt_utils.unique_combination_of_columns,
    written here because dbt packages cannot be installed offline). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
