"""``VitamOperationTrigger``: waits in the triggerer for a VITAM operation to finish.

While VITAM works (minutes to hours for a big SIP), no worker slot is held: the operator
defers to this trigger, which polls ``HEAD /operations/{id}`` (vitam-api.md §5) every
``poll_interval`` seconds, in a thread so that the triggerer's event loop never blocks, and fires
one event:

* ``{"status": "finished", "state": ..., "operation_status": ..., "needs_operator": bool}``
  when the operation is COMPLETED or paused (FATAL);
* ``{"status": "error", "message": ...}`` on a terminal error (4xx: the id, tenant or
  certificate is wrong); transient errors (no answer, 5xx) are polled through;
* ``{"status": "timeout", ...}`` once ``deadline`` (an absolute time, kept across triggerer
  restarts by ``serialize``) has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from versement.airflow.hooks.vitam import VitamHook
from vitam_client import OperationStatus, VitamClient, VitamError, is_transient


class VitamOperationTrigger(BaseTrigger):
    def __init__(
        self,
        operation_id: str,
        vitam_conn_id: str = VitamHook.default_conn_name,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        timeout: float = 3600.0,
    ) -> None:
        super().__init__()
        self.operation_id = operation_id
        self.vitam_conn_id = vitam_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else time.time() + timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "operation_id": self.operation_id,
                "vitam_conn_id": self.vitam_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = await asyncio.to_thread(VitamHook(self.vitam_conn_id).get_conn)
        try:
            yield await self._wait(client)
        finally:
            await asyncio.to_thread(client.close)

    async def _wait(self, client: VitamClient) -> TriggerEvent:
        base = {"operation_id": self.operation_id}
        last: OperationStatus | None = None
        while True:
            try:
                last = await asyncio.to_thread(client.operation_status, self.operation_id)
            except VitamError as exc:
                if not is_transient(exc):
                    return TriggerEvent({**base, "status": "error", "message": str(exc), "error": type(exc).__name__})
                self.log.warning("polling VITAM operation %s failed, will retry: %s", self.operation_id, exc)
            else:
                self.log.info("VITAM operation %s: %s/%s", self.operation_id, last.state, last.status)
                if last.finished:
                    return TriggerEvent(
                        {
                            **base,
                            "status": "finished",
                            "state": last.state,
                            "operation_status": last.status,
                            "needs_operator": last.needs_operator,
                        }
                    )
            if time.time() >= self.deadline:
                return TriggerEvent(
                    {
                        **base,
                        "status": "timeout",
                        "state": last.state if last else None,
                        "operation_status": last.status if last else None,
                    }
                )
            await asyncio.sleep(min(self.poll_interval, max(self.deadline - time.time(), 0.0)))
