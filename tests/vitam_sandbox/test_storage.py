"""A sandbox with a storage folder still answers after a restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from tests.vitam_client.asgi import InProcessTransport
from tests.vitam_client.conftest import endpoint, no_sleep
from tests.vitam_client.sips import build_sip
from vitam_client import VitamClient, parse_atr
from vitam_sandbox import SandboxConfig, create_app


def client_for(config: SandboxConfig) -> tuple[InProcessTransport, VitamClient]:
    transport = InProcessTransport(create_app(config))
    return transport, VitamClient(endpoint(), transport=transport, sleep=no_sleep)


def test_operations_atrs_and_units_survive_a_restart(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    config = replace(sandbox_config, storage_dir=storage, polls_before_completion=2)
    first_http, first = client_for(config)
    with first_http:
        done = first.ingest(build_sip(tmp_path, name="done.zip"))
        first.wait_for_operation(done, sleep=no_sleep)
        atr = first.archive_transfer_reply(done)
        units = first.units_by_operation(done)
        running = first.ingest(build_sip(tmp_path, name="running.zip"))
        assert first.operation_status(running).state == "RUNNING"  # one of its two RUNNING answers

    second_http, second = client_for(config)
    with second_http:
        assert second.operation_status(done).state == "COMPLETED"
        assert second.archive_transfer_reply(done) == atr
        assert second.units_by_operation(done) == units
        assert parse_atr(atr).reply_code == "OK"
        # The poll counter was persisted too: one RUNNING answer left, then COMPLETED.
        assert second.operation_status(running).state == "RUNNING"
        assert second.operation_status(running).state == "COMPLETED"

    assert (storage / "sandbox.sqlite").is_file()
    assert list((storage / "uploads").iterdir()) == []  # SIPs are not kept once checked


def test_without_storage_a_restart_forgets(sandbox_config: SandboxConfig, tmp_path: Path) -> None:
    first_http, first = client_for(sandbox_config)
    with first_http:
        operation_id = first.ingest(build_sip(tmp_path))
    second_http, _ = client_for(sandbox_config)
    with httpx.Client(transport=second_http, base_url="http://testserver") as raw:
        answer = raw.head(f"/admin-external/v1/operations/{operation_id}", headers={"X-Tenant-Id": "0"})
        assert answer.status_code == 404


def test_an_operation_interrupted_by_a_restart_is_fatal(tmp_path: Path) -> None:
    from vitam_sandbox.store import Operation, Store

    store = Store(tmp_path / "storage")
    operation = Operation("aeeaaa" + "a" * 30, 0, "INGEST", "STARTED", 0, "2026-01-01T00:00:00.000Z")
    store.create(operation, {"evIdProc": operation.id})
    assert store.get(operation.id, 0).state == "RUNNING"  # type: ignore[union-attr]
    store.close()
    restarted = Store(tmp_path / "storage").get(operation.id, 0)
    assert restarted is not None
    assert (restarted.state, restarted.current_status) == ("PAUSE", "FATAL")
