"""The archivists' approval, through Airflow's human-in-the-loop operators.

``BatchApprovalOperator`` reads the batch when it runs, shows the French approval request (batch
summary, quality, rules, SIP digest, link to the batch in the browser) to the configured
archivists only (``approval.archivists``: Airflow user ids, as ``assigned_users``), and waits
without holding a worker slot. The answer is written to the ledger by the same functions as the
CLI's (``pipeline.approve`` / ``pipeline.reject``), with the responder's Airflow identity and
bound to the digest the request showed (its ``empreinte_sha256`` field, filled with it; for a batch
of several SIPs, every part's digest, separated by spaces, as ``versement approve`` needs them). An
unanswered request expires after ``approval.timeout_hours``: an ``approval.expired`` ledger event,
and the task fails with a French message; the batch stays awaiting approval.

``QualityOverrideOperator`` is the same mechanism for a ``quality_failed`` batch: a written
justification lifts the gate (``quality.override``), "Arrêter" stops the batch.

A batch in any other state than the one the request is for skips the request (resumed runs).

Both retry once, after 30 s, for one failure only: Airflow 3.3.2's scheduler fails a HITL task
("task state changed externally") when the answer resumes it before the executor has reported
the exit of the process that parked it (apache/airflow#71580, #72716). The retry is safe: it finds
the batch answered (the resumed attempt recorded it) and lets the gate decide, or still waiting,
and asks again. An expiry, a refused digest or a missing justification fail without retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from versement import approval_form as form
from versement.config import Settings
from versement.ledger import Ledger, State


def _steps() -> Any:
    """The orchestration steps, imported when a task runs (never at DAG-file import)."""
    from versement import orchestration

    return orchestration


Deployment = Callable[[], tuple[Settings, Ledger]]


def _deployment() -> tuple[Settings, Ledger]:
    from versement.airflow_integration import deployment

    return deployment()


def assigned(settings: Settings) -> list[dict[str, str]]:
    """The configured archivists as Airflow's HITL users; none configured is an error, not "anyone"."""
    if not settings.approval.archivists:
        raise AirflowFailException(
            f"{settings.source_file}: approval.archivists est vide : aucun archiviste ne peut répondre aux "
            "demandes de validation ; indiquez les identifiants Airflow des archivistes"
        )
    return [{"id": user, "name": user} for user in settings.approval.archivists]


class _BatchRequest(HITLOperator):
    """Shared part: the batch number templated, the request built when the task runs."""

    template_fields = ("batch_id",)
    kind = "approval"
    waits_for: State = State.AWAITING_APPROVAL

    def __init__(
        self,
        *,
        batch_id: int | str,
        timeout_hours: float,
        deployment: Deployment = _deployment,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 1)  # the scheduler's stale-exit race only (module notes)
        kwargs.setdefault("retry_delay", timedelta(seconds=30))
        super().__init__(response_timeout=timedelta(hours=timeout_hours), **kwargs)
        self.batch_id = batch_id
        self.timeout_hours = timeout_hours
        self.deployment = deployment

    def payload(self, settings: Settings, ledger: Ledger) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, context: Any) -> Any:
        settings, ledger = self.deployment()
        batch = ledger.batch(int(self.batch_id))
        if batch.state != self.waits_for:
            if self.kind == "approval" and batch.state not in (State.NEW, State.EXTRACTED, State.QUALITY_FAILED):
                self.log.info("lot %d : %s ; déjà répondu, pas de nouvelle demande", batch.id, batch.state)
                return {"batch_id": batch.id, "state": batch.state}  # a resumed run: the gate decides
            raise AirflowSkipException(f"lot {batch.id} : {batch.state} ; pas de demande à faire")
        payload = self.payload(settings, ledger)
        self.subject, self.body = payload["subject"], payload["body"]
        self.assigned_users = assigned(settings)  # type: ignore[assignment]
        self.log.info("%s\n%s", self.subject, payload.get("request") or self.body)
        self.log.info(
            "demande adressée à %s ; expire dans %g h", ", ".join(settings.approval.archivists), self.timeout_hours
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        _, ledger = self.deployment()
        if event.get("error_type") == "timeout":
            message = _steps().record_expiry(
                ledger,
                int(self.batch_id),
                actor=f"airflow:{self.dag_id}.{self.task_id}",
                kind=self.kind,
                hours=self.timeout_hours,
            )
            self.log.error("%s", message)
            raise AirflowFailException(message)
        answer = super().execute_complete(context, event)
        from versement.pipeline import StageError  # a digest not the one shown, a batch no longer waiting

        try:
            return self.record(ledger, dict(answer))
        except (form.StepRefused, StageError, ValueError) as exc:  # an answer refused: no retry asks again
            raise AirflowFailException(str(exc)) from exc

    def record(self, ledger: Ledger, answer: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class BatchApprovalOperator(_BatchRequest):
    """Approve or reject a batch awaiting approval (see the module notes)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("params", None)  # the DAG's params (scope...) are not fields of this form
        super().__init__(
            subject="Validation d'un lot",
            options=[form.APPROVE, form.REJECT],
            params={
                form.DIGEST: Param(
                    "",
                    type="string",
                    description="empreinte SHA-256 du SIP que vous validez (une par SIP, séparées par des espaces)",
                ),
                form.COMMENT: Param("", type="string", description="commentaire (obligatoire pour un rejet)"),
            },
            **kwargs,
        )

    def payload(self, settings: Settings, ledger: Ledger) -> dict[str, Any]:
        found = _steps().approval_payload(settings, ledger.batch(int(self.batch_id)), ledger)
        # The digest field comes filled with the digest(s) shown (one per SIP): the answer is bound to them.
        self.params[form.DIGEST] = " ".join(found["digests"])
        return found

    def record(self, ledger: Ledger, answer: dict[str, Any]) -> dict[str, Any]:
        batch = ledger.batch(int(self.batch_id))
        shown = self.shown_digest(ledger)
        batch = _steps().record_decision(
            ledger,
            batch.id,
            chosen=answer["chosen_options"],
            params_input=answer["params_input"],
            responder=answer["responded_by_user"],
            shown_sha256=shown,
        )
        return {"batch_id": batch.id, "state": batch.state, "by": answer["responded_by_user"]}

    def shown_digest(self, ledger: Ledger) -> list[str]:
        """The digests the request showed: those recorded when approval was requested (every part's)."""
        for event in reversed(ledger.events(int(self.batch_id))):
            if event.action == "approval.requested":
                requested = json.loads(event.details)
                return [str(d) for d in requested.get("parts_sha256") or [requested.get("sip_sha256")]]
        raise form.StepRefused(f"lot {self.batch_id} : aucune demande de validation dans le journal")


class QualityOverrideOperator(_BatchRequest):
    """Lift a failed quality gate with a written justification, or stop the batch."""

    kind = "override"
    waits_for = State.QUALITY_FAILED

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("params", None)  # the DAG's params (scope...) are not fields of this form
        super().__init__(
            subject="Dérogation au contrôle qualité",
            options=[form.OVERRIDE, form.STOP],
            params={form.JUSTIFICATION: Param("", type="string", description="justification écrite")},
            **kwargs,
        )

    def payload(self, settings: Settings, ledger: Ledger) -> dict[str, Any]:
        return _steps().override_payload(settings, ledger.batch(int(self.batch_id)))

    def record(self, ledger: Ledger, answer: dict[str, Any]) -> dict[str, Any]:
        batch = _steps().record_override(
            ledger,
            int(self.batch_id),
            chosen=answer["chosen_options"],
            params_input=answer["params_input"],
            responder=answer["responded_by_user"],
        )
        return {"batch_id": batch.id, "state": batch.state, "by": answer["responded_by_user"]}
