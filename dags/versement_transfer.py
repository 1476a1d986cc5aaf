"""Transfer DAG: send one approved batch to VITAM, without holding a worker slot while VITAM works.

Triggered with the batch number (``{"batch_id": N}``) once an archivist has approved it
(``versement approve``). ``VitamTransferOperator`` records the intent in the ledger, uploads the
SIP exactly once (or, on a retry, finds it in VITAM's logbook), defers to the triggerer until
the operation finishes, then stores the ATR and verifies the batch by reading it back. VITAM is
reached through the Airflow connection ``vitam_default`` (type ``vitam``: host, tenant,
contracts, certificate paths; the password is the client key's).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from versement.airflow.operators.transfer import VitamTransferOperator


@dag(
    dag_id="versement_transfer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    tags=["versement", "vitam"],
    params={"batch_id": Param(type="integer", minimum=1, description="numéro du lot validé par l'archiviste")},
    doc_md=__doc__,
)
def versement_transfer() -> None:
    VitamTransferOperator(task_id="transfer", batch_id="{{ params.batch_id }}", retries=3)


transfer_dag = versement_transfer()
