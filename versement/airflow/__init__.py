"""versement's Airflow provider: the VITAM Hook, the deferrable transfer Operator and its Trigger.

Laid out as Airflow's own providers are (``hooks/``, ``operators/``, ``triggers/``, and
``provider.py`` for the provider info that declares the ``vitam`` connection type and its form
fields). With ``versement/airflow_integration.py`` and ``dags/``, the only code that imports
Airflow; everything it calls (``vitam_client``, ``versement.transfer``) runs without it.
"""
