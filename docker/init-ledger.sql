-- The versement ledger lives beside Airflow's metadata, in its own database and role.
-- The role's password is set by the operator (ALTER ROLE versement PASSWORD ...) from a secret.
CREATE ROLE versement LOGIN;
CREATE DATABASE versement OWNER versement;
