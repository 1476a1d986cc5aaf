"""The fields and answers of an approval or override request, shared by the orchestration steps
and the Airflow HITL operators.

Kept apart from ``versement.orchestration`` so that DAG files, which build the operators at
import, do not load the stages (pyarrow, DuckDB, lxml) until a task runs.
"""

from __future__ import annotations

APPROVE = "Valider le versement"
REJECT = "Rejeter le lot"
OVERRIDE = "Déroger au contrôle qualité"
STOP = "Arrêter"
COMMENT = "commentaire"
DIGEST = "empreinte_sha256"
JUSTIFICATION = "justification"


class StepRefused(Exception):
    """A step asked for something the batch or the request does not allow; nothing was written."""
