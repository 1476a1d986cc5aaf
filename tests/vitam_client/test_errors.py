"""The error hierarchy: every VitamError body becomes a typed exception carrying its fields, and
the transient/terminal markers decide what is retried (idempotent calls only, never the upload)."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tests.vitam_client.conftest import endpoint
from tests.vitam_client.test_client import OPERATION, accepted, make, scripted, status
from versement.ledger import IllegalTransition, State
from versement.pipeline import DigestMismatch as PipelineDigestMismatch
from vitam_client import (
    DigestMismatch,
    OperationNeedsOperator,
    Terminal,
    Transient,
    UnknownWorkflow,
    UploadOutcomeUnknown,
    VitamBadRequest,
    VitamClient,
    VitamClientError,
    VitamConfigurationError,
    VitamError,
    VitamNotFound,
    VitamPreconditionFailed,
    VitamServerError,
    VitamTimeout,
    VitamTooManyRequests,
    VitamTransportError,
    VitamUnauthorized,
    is_transient,
)
from vitam_client.tls import ssl_context


def vitam_error_body(http_code: int, code: str) -> dict[str, object]:
    return {
        "httpCode": http_code,
        "code": code,
        "context": "External Ingest",
        "state": "Input / Output",
        "message": "Ingest external not found",
        "description": "Opération inconnue : « aeeaaa… »",
        "errors": [],
    }


@pytest.mark.parametrize(
    ("http_code", "kind", "transient"),
    [
        (400, VitamBadRequest, False),
        (401, VitamUnauthorized, False),
        (404, VitamNotFound, False),
        (409, VitamClientError, False),
        (412, VitamPreconditionFailed, False),
        (429, VitamTooManyRequests, True),
        (500, VitamServerError, True),
        (502, VitamServerError, True),
        (503, VitamServerError, True),
    ],
)
def test_every_vitam_error_body_becomes_a_typed_exception(
    http_code: int, kind: type[VitamError], transient: bool
) -> None:
    answer = httpx.Response(http_code, json=vitam_error_body(http_code, "040102"), headers={"X-Request-Id": OPERATION})
    error = VitamError.from_response(answer)
    assert type(error) is kind
    assert (error.http_code, error.vitam_code, error.context, error.state) == (
        http_code,
        "040102",
        "External Ingest",
        "Input / Output",
    )
    assert error.description == "Opération inconnue : « aeeaaa… »"
    assert error.message == "Ingest external not found: Opération inconnue : « aeeaaa… »"
    assert error.request_id == OPERATION
    assert is_transient(error) is transient
    assert error.terminal is not transient
    assert isinstance(error, Transient if transient else Terminal)


def test_a_security_filter_context_object_is_kept_as_text() -> None:
    body = {"httpCode": 401, "code": "000700", "context": {"Name": "ingest-external", "Role": "ingest"}}
    error = VitamError.from_response(httpx.Response(401, json=body))
    assert isinstance(error, VitamUnauthorized)
    assert error.context == '{"Name": "ingest-external", "Role": "ingest"}'


def test_a_503_with_an_atr_is_an_unknown_workflow_and_terminal() -> None:
    atr = (
        b'<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.0">'
        b"<ReplyCode>KO</ReplyCode></ArchiveTransferReply>"
    )
    error = VitamError.from_response(httpx.Response(503, content=atr))
    assert isinstance(error, UnknownWorkflow)
    assert error.terminal and error.atr == atr


def test_markers_on_the_other_errors() -> None:
    assert is_transient(VitamTransportError("reset"))
    assert is_transient(UploadOutcomeUnknown("reset"))
    assert is_transient(VitamTimeout("slow", request_id=OPERATION, state="RUNNING", status="STARTED"))
    assert not is_transient(OperationNeedsOperator("fatal"))
    assert not is_transient(DigestMismatch("object BDO1", "SHA-512", "ab", "cd"))
    assert not is_transient(VitamConfigurationError("no CA"))
    # Outside the client too: the pipeline's digest mismatch and the ledger's illegal change.
    assert isinstance(PipelineDigestMismatch("changed"), Terminal)
    assert isinstance(IllegalTransition(1, State.NEW, State.VERIFIED), Terminal)
    assert not is_transient(ValueError("unmarked"))


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [httpx.Response(503), httpx.Response(429), httpx.ConnectError("refused")])
def test_idempotent_reads_are_retried_on_transient_failures(answer: httpx.Response | Exception) -> None:
    handler, seen = scripted(answer, httpx.Response(200, json={"$results": [{"#id": "u"}]}))
    sleeps: list[float] = []
    assert make(handler, sleeps).unit("u") == {"#id": "u"}
    assert len(seen) == 2 and sleeps == [2.0]


def test_idempotent_reads_stop_at_the_first_terminal_answer() -> None:
    handler, seen = scripted(httpx.Response(503), httpx.Response(401, json=vitam_error_body(401, "000700")))
    sleeps: list[float] = []
    with pytest.raises(VitamUnauthorized):
        make(handler, sleeps).unit("u")
    assert len(seen) == 2 and sleeps == [2.0]


def test_polling_stops_on_a_terminal_error_but_polls_through_transient_ones() -> None:
    handler, seen = scripted(
        httpx.Response(502),
        httpx.Response(500),
        status("COMPLETED", "OK", 200),
    )
    result = make(handler).wait_for_operation(OPERATION, sleep=lambda _: None)
    assert result.status == "OK" and len(seen) == 3


@pytest.fixture
def sip(tmp_path: Path) -> Path:
    path = tmp_path / "sip.zip"
    path.write_bytes(b"PK" + bytes(1000))
    return path


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(500, json=vitam_error_body(500, "040105")), VitamServerError),
        (httpx.Response(503), VitamServerError),
        (httpx.ReadTimeout("the 202 never came"), UploadOutcomeUnknown),
        (httpx.RemoteProtocolError("connection dropped"), UploadOutcomeUnknown),
    ],
)
def test_the_upload_is_never_retried_even_on_transient_failures(
    sip: Path, answer: httpx.Response | Exception, kind: type[VitamError]
) -> None:
    handler, seen = scripted(answer, accepted())
    with pytest.raises(kind) as caught:
        make(handler).ingest(sip)
    assert len(seen) == 1
    assert is_transient(caught.value)  # for the transfer, resumable by a logbook look-up


def test_the_upload_read_timeout_covers_a_large_sip(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    class Capture(httpx.BaseTransport):  # reads nothing: MockTransport would read the body
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return accepted()

    big = tmp_path / "big.zip"
    with big.open("wb") as stream:  # sparse: takes no disk
        stream.truncate(600 * 1024**2)
    VitamClient(endpoint(timeout=60.0), transport=Capture()).ingest(big)
    timeouts = seen[0].extensions["timeout"]
    assert timeouts["read"] >= 600  # 600 MiB at no less than 1 MiB/s
    assert timeouts["connect"] == 10.0


# -- TLS -----------------------------------------------------------------------------------------


def test_server_verification_cannot_be_turned_off() -> None:
    with pytest.raises(VitamConfigurationError, match="cannot be turned off"):
        ssl_context(False, None)


def test_tls_below_1_2_is_refused_and_the_host_name_checked() -> None:
    context = ssl_context(True, None)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
