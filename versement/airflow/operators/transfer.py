"""The deferrable transfer operator and the verification operator.

``VitamTransferOperator`` does the exactly-once part in the worker (``versement.transfer.submit``:
the ledger's ``submitting`` intent, the upload or the logbook look-up, ``submitted``), then
defers to :class:`VitamOperationTrigger` and frees its slot (for a batch of several SIPs, once per
part's operation, in turn); when the last trigger fires it fetches the ATRs and verifies by
reading back (``versement.transfer.complete``). A retried task never uploads
twice: the ledger says where the batch stands.

Errors marked terminal (``vitam_client.Terminal``: a 4xx, a SIP changed after approval, an
illegal state change, a FATAL operation) raise ``AirflowFailException``, so Airflow does not retry
what cannot succeed; transient ones are raised as they are, for Airflow's retries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from versement.airflow.hooks.vitam import VitamHook
from versement.airflow.triggers.vitam import VitamOperationTrigger
from versement.config import Settings
from versement.ledger import Ledger, State
from versement.ledger.sips import current_sips
from vitam_client import is_transient

Deployment = Callable[[], tuple[Settings, Ledger]]
MISMATCH = "lot {batch} : VÉRIFICATION EN ÉCHEC, VITAM ne restitue pas ce qui a été envoyé"


def _deployment() -> tuple[Settings, Ledger]:
    from versement.airflow_integration import deployment

    return deployment()


def _raise_for_airflow(exc: BaseException) -> NoReturn:
    if is_transient(exc):
        raise exc
    raise AirflowFailException(str(exc)) from exc


def _operations(batch: Any) -> list[str]:
    """The VITAM operations of the batch's current SIPs, part by part (one for a batch of one SIP)."""
    found = [sip.vitam_operation_id for sip in current_sips(batch) if sip.vitam_operation_id]
    return found or [batch.vitam_operation_id]


class VitamTransferOperator(BaseOperator):
    """Send an approved batch to VITAM, wait in the triggerer, then store the ATR and verify."""

    template_fields: Sequence[str] = ("batch_id",)

    def __init__(
        self,
        *,
        batch_id: int | str,
        vitam_conn_id: str = VitamHook.default_conn_name,
        poll_interval: float = 30.0,
        deployment: Deployment = _deployment,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.vitam_conn_id = vitam_conn_id
        self.poll_interval = poll_interval
        self.deployment = deployment

    @property
    def actor(self) -> str:
        return f"airflow:{self.dag_id}.{self.task_id}" if self.has_dag() else f"airflow:{self.task_id}"

    def execute(self, context: Any) -> dict[str, Any]:
        from versement.transfer import submit

        settings, ledger = self.deployment()
        hook = VitamHook(self.vitam_conn_id)
        try:
            problems = hook.mismatches(settings.vitam)
        except Exception as exc:
            _raise_for_airflow(exc)
        if problems:
            raise AirflowFailException(
                f"lot {self.batch_id} : la connexion Airflow {self.vitam_conn_id} ne correspond pas à la "
                f"configuration ({' ; '.join(problems)}) ; rien n'est envoyé"
            )
        try:
            with hook.get_conn() as client:
                batch = submit(settings, ledger, int(self.batch_id), actor=self.actor, client=client)
        except Exception as exc:
            _raise_for_airflow(exc)
        if batch.state != State.SUBMITTED:  # already accepted by an earlier try: just finish
            return self._complete(settings, ledger)
        return self._wait_for(settings, ledger, _operations(batch), waited=[])

    def _wait_for(self, settings: Settings, ledger: Ledger, operations: list[str], waited: list[str]) -> dict[str, Any]:
        """Defer to the trigger for the first operation not yet waited for (a split batch has one
        per part: the triggerer waits for each in turn); when none is left, finish in the worker."""
        pending = [operation for operation in operations if operation not in waited]
        if not pending:
            return self._complete(settings, ledger)
        self.defer(
            trigger=VitamOperationTrigger(
                pending[0],
                vitam_conn_id=self.vitam_conn_id,
                poll_interval=self.poll_interval,
                timeout=settings.vitam.poll_timeout,
            ),
            method_name="execute_complete",
            kwargs={"waited": waited},
        )

    def execute_complete(self, context: Any, event: dict[str, Any], waited: list[str] | None = None) -> dict[str, Any]:
        settings, ledger = self.deployment()
        status = event.get("status")
        if status == "error":
            raise AirflowFailException(f"VITAM operation {event.get('operation_id')}: {event.get('message')}")
        if status == "timeout":
            ledger.record(
                int(self.batch_id),
                actor=self.actor,
                action="transfer.needs_operator",
                details={"reason": "timeout", **event},
            )
            raise AirflowException(
                f"lot {self.batch_id} : l'opération VITAM {event.get('operation_id')} n'est pas terminée "
                f"({event.get('state')}/{event.get('operation_status')}) ; une nouvelle tentative la suivra"
            )
        done = [*(waited or []), str(event.get("operation_id"))]
        return self._wait_for(settings, ledger, _operations(ledger.batch(int(self.batch_id))), waited=done)

    def _complete(self, settings: Settings, ledger: Ledger) -> dict[str, Any]:
        from versement.transfer import complete

        try:
            with VitamHook(self.vitam_conn_id).get_conn() as client:
                batch = complete(settings, ledger, int(self.batch_id), actor=self.actor, client=client)
        except Exception as exc:
            _raise_for_airflow(exc)
        if batch.state == State.VERIFICATION_FAILED:
            raise AirflowFailException(MISMATCH.format(batch=batch.id))
        return {"batch": batch.id, "state": batch.state, "operation_id": batch.vitam_operation_id}


class VitamVerifyOperator(BaseOperator):
    """Read an accepted batch back from VITAM; a mismatch fails the task without retry."""

    template_fields: Sequence[str] = ("batch_id",)

    def __init__(
        self,
        *,
        batch_id: int | str,
        vitam_conn_id: str = VitamHook.default_conn_name,
        deployment: Deployment = _deployment,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.vitam_conn_id = vitam_conn_id
        self.deployment = deployment

    def execute(self, context: Any) -> dict[str, Any]:
        from versement.transfer import verify

        settings, ledger = self.deployment()
        try:
            with VitamHook(self.vitam_conn_id).get_conn() as client:
                batch = verify(settings, ledger, int(self.batch_id), actor=f"airflow:{self.task_id}", client=client)
        except Exception as exc:
            _raise_for_airflow(exc)
        if batch.state != State.VERIFIED:
            raise AirflowFailException(MISMATCH.format(batch=batch.id))
        return {"batch": batch.id, "state": batch.state}
