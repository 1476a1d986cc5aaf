#!/bin/bash
# The versement ledger lives beside Airflow's metadata, in its own database and role, whose
# password is the secret VERSEMENT_LEDGER_PASSWORD (the PostgreSQL image runs this script once,
# when it creates its data folder). Airflow's role never owns the ledger, nor the reverse.
set -euo pipefail
: "${VERSEMENT_LEDGER_PASSWORD:?set VERSEMENT_LEDGER_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v ledger_password="$VERSEMENT_LEDGER_PASSWORD" <<'SQL'
CREATE ROLE versement LOGIN PASSWORD :'ledger_password';
CREATE DATABASE versement OWNER versement;
REVOKE ALL ON DATABASE versement FROM PUBLIC;
SQL
