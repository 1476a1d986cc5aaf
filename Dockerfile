# versement on top of the official Airflow image: the DAGs and the CLI in one image.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 . /opt/versement
# The [airflow] extra pins the Celery provider and Redis client the tests run with.
RUN pip install --no-cache-dir -c /opt/versement/constraints.txt -e '/opt/versement[airflow]'
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/versement/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    VERSEMENT_CONFIG=/opt/versement/config/demo.toml
