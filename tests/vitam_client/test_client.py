"""VitamClient against scripted answers (httpx.MockTransport): headers, retries, backoff."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.vitam_client.conftest import endpoint, no_sleep
from vitam_client import (
    OperationStatus,
    VitamClient,
    VitamError,
    VitamPreconditionFailed,
    VitamServerError,
    VitamTimeout,
    VitamTransportError,
    is_transient,
)

OPERATION = "aeeaaaaaachk7bs6abo3walwa3jx6vyaaaaq"
Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving the answers in order (the last one repeats), and the requests seen."""
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(answers)
    last: list[httpx.Response | Exception] = [answers[-1]]

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        answer = next(queue, last[0])
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def status(state: str, code: str, http_code: int = 202) -> httpx.Response:
    headers = {"X-Global-Execution-State": state, "X-Global-Execution-Status": code}
    return httpx.Response(http_code, headers=headers)


def make(handler: Handler, sleeps: list[float] | None = None, **overrides: Any) -> VitamClient:
    sleep = sleeps.append if sleeps is not None else no_sleep
    return VitamClient(endpoint(**overrides), transport=httpx.MockTransport(handler), sleep=sleep)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- operation status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code", "finished", "needs_operator"),
    [
        ("PAUSE", "UNKNOWN", False, False),  # just accepted, not started
        ("RUNNING", "STARTED", False, False),
        ("RUNNING", "KO", False, False),
        ("COMPLETED", "OK", True, False),
        ("COMPLETED", "KO", True, False),
        ("PAUSE", "STARTED", True, False),  # step by step: waits for someone
        ("PAUSE", "FATAL", True, True),  # technical error: operator needed, no ATR yet
    ],
)
def test_finished_and_needs_operator(state: str, code: str, finished: bool, needs_operator: bool) -> None:
    assert OperationStatus(OPERATION, state, code).finished is finished
    assert OperationStatus(OPERATION, state, code).needs_operator is needs_operator


def test_operation_status_reads_the_head_headers() -> None:
    handler, seen = scripted(status("RUNNING", "STARTED"))
    result = make(handler).operation_status(OPERATION)
    assert result == OperationStatus(OPERATION, "RUNNING", "STARTED")
    assert seen[0].method == "HEAD"
    assert seen[0].url == f"http://testserver/admin-external/v1/operations/{OPERATION}"
    assert seen[0].headers["X-Tenant-Id"] == "0"
    assert seen[0].headers["X-Application-Id"] == "versement-tests"


def test_operation_status_without_state_headers_is_an_error() -> None:
    handler, _ = scripted(httpx.Response(200))
    with pytest.raises(VitamError, match="X-Global-Execution-State"):
        make(handler).operation_status(OPERATION)


# -- waiting -------------------------------------------------------------------------------------


def test_wait_backs_off_exponentially_until_completed() -> None:
    handler, seen = scripted(*[status("RUNNING", "STARTED")] * 4, status("COMPLETED", "WARNING", 200))
    time = FakeTime()
    result = make(handler).wait_for_operation(OPERATION, sleep=time.sleep, clock=time.clock)
    assert result == OperationStatus(OPERATION, "COMPLETED", "WARNING")
    assert time.sleeps == [2.0, 4.0, 8.0, 16.0]
    assert len(seen) == 5


def test_wait_reports_every_status_it_reads() -> None:
    handler, _ = scripted(status("PAUSE", "UNKNOWN"), status("RUNNING", "STARTED"), status("COMPLETED", "OK", 200))
    time = FakeTime()
    seen: list[tuple[str, str]] = []
    make(handler).wait_for_operation(
        OPERATION, sleep=time.sleep, clock=time.clock, on_status=lambda s: seen.append((s.state, s.status))
    )
    assert seen == [("PAUSE", "UNKNOWN"), ("RUNNING", "STARTED"), ("COMPLETED", "OK")]


def test_wait_caps_the_delay() -> None:
    handler, _ = scripted(*[status("RUNNING", "STARTED")] * 5, status("COMPLETED", "OK", 200))
    time = FakeTime()
    make(handler).wait_for_operation(OPERATION, first_delay=20, max_delay=60, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == [20, 40, 60, 60, 60]


def test_wait_gives_up_after_the_timeout() -> None:
    handler, seen = scripted(status("RUNNING", "STARTED"))
    time = FakeTime()
    with pytest.raises(VitamTimeout) as caught:
        make(handler).wait_for_operation(OPERATION, timeout=10, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == [2.0, 4.0, 4.0]  # the last sleep stops at the deadline
    assert sum(time.sleeps) == 10
    assert len(seen) == 4  # one last look at the deadline
    error = caught.value
    assert isinstance(error, VitamError)
    assert (error.state, error.status, error.request_id) == ("RUNNING", "STARTED", OPERATION)
    assert "RUNNING/STARTED" in str(error)


def test_wait_returns_a_stuck_operation_for_the_operator() -> None:
    handler, _ = scripted(status("PAUSE", "UNKNOWN"), status("PAUSE", "FATAL"))
    time = FakeTime()
    result = make(handler).wait_for_operation(OPERATION, sleep=time.sleep, clock=time.clock)
    assert result.needs_operator
    assert time.sleeps == [2.0]


def test_wait_retries_network_errors() -> None:
    handler, seen = scripted(
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        status("COMPLETED", "OK", 200),
    )
    time = FakeTime()
    result = make(handler).wait_for_operation(OPERATION, sleep=time.sleep, clock=time.clock)
    assert result.finished
    assert len(seen) == 3
    assert time.sleeps == [2.0, 4.0]


def test_wait_does_not_hide_http_errors() -> None:
    handler, _ = scripted(httpx.Response(404, json={"httpCode": 404, "code": "040102", "message": "not found"}))
    time = FakeTime()
    with pytest.raises(VitamError) as caught:
        make(handler).wait_for_operation(OPERATION, sleep=time.sleep, clock=time.clock)
    assert caught.value.http_code == 404
    assert time.sleeps == []


# -- ATR -----------------------------------------------------------------------------------------

NOT_FOUND = httpx.Response(
    404, json={"httpCode": 404, "code": "040102", "context": "External Ingest", "message": "Ingest external not found"}
)


def test_atr_is_retried_on_404_with_backoff() -> None:
    handler, seen = scripted(NOT_FOUND, NOT_FOUND, httpx.Response(200, content=b"<ATR/>"))
    sleeps: list[float] = []
    assert make(handler, sleeps).archive_transfer_reply(OPERATION) == b"<ATR/>"
    assert sleeps == [2.0, 4.0]
    assert seen[0].url.path == f"/ingest-external/v1/ingests/{OPERATION}/archivetransferreply"


def test_atr_still_missing_after_all_attempts() -> None:
    handler, seen = scripted(NOT_FOUND)
    sleeps: list[float] = []
    with pytest.raises(VitamError) as caught:
        make(handler, sleeps).archive_transfer_reply(OPERATION, attempts=3)
    assert (caught.value.http_code, caught.value.vitam_code) == (404, "040102")
    assert len(seen) == 3
    assert sleeps == [2.0, 4.0]


def test_atr_server_errors_are_retried_with_backoff_then_raised_as_transient() -> None:
    handler, seen = scripted(httpx.Response(500, json={"httpCode": 500, "code": "040105", "message": "boom"}))
    sleeps: list[float] = []
    with pytest.raises(VitamServerError, match="boom") as caught:
        make(handler, sleeps).archive_transfer_reply(OPERATION)
    assert len(seen) == 4  # RetryPolicy().attempts
    assert sleeps == [2.0, 4.0, 8.0]
    assert is_transient(caught.value) and not caught.value.terminal


def test_atr_client_errors_are_not_retried() -> None:
    handler, seen = scripted(httpx.Response(412, json={"httpCode": 412, "code": "040101", "message": "bad id"}))
    with pytest.raises(VitamPreconditionFailed, match="bad id") as caught:
        make(handler).archive_transfer_reply(OPERATION)
    assert len(seen) == 1
    assert caught.value.terminal and not is_transient(caught.value)


def test_atr_network_errors_are_retried() -> None:
    handler, seen = scripted(httpx.RemoteProtocolError("reset"), httpx.Response(200, content=b"<ATR/>"))
    assert make(handler).archive_transfer_reply(OPERATION) == b"<ATR/>"
    assert len(seen) == 2


def test_an_operation_id_stays_one_path_segment() -> None:
    handler, seen = scripted(httpx.Response(200, content=b"<ATR/>"))
    make(handler).archive_transfer_reply("../../status")
    assert seen[0].url.raw_path.endswith(b"/ingests/..%2F..%2Fstatus/archivetransferreply")


# -- ingest --------------------------------------------------------------------------------------


@pytest.fixture
def sip(tmp_path: Path) -> Path:
    path = tmp_path / "sip.zip"
    path.write_bytes(b"PK" + bytes(300_000))
    return path


def accepted() -> httpx.Response:
    return httpx.Response(
        202,
        headers={
            "X-Request-Id": OPERATION,
            "X-Global-Execution-State": "PAUSE",
            "X-Global-Execution-Status": "UNKNOWN",
        },
    )


def test_ingest_sends_the_documented_headers_and_streams_the_body(sip: Path) -> None:
    seen: list[tuple[httpx.Request, object, bytes]] = []

    class Capture(httpx.BaseTransport):  # MockTransport would read the body before we look
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            stream = request.stream
            seen.append((request, stream, b"".join(request.stream)))  # type: ignore[arg-type]
            return accepted()

    client = VitamClient(endpoint(), transport=Capture())
    operation_id = client.ingest(sip, context_id="BLANK_TEST", manifest_sha512="ABC123")
    assert operation_id == OPERATION
    request, stream, body = seen[0]
    assert (request.method, request.url.path) == ("POST", "/ingest-external/v1/ingests")
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.headers["X-Tenant-Id"] == "0"
    assert request.headers["X-Context-Id"] == "BLANK_TEST"
    assert request.headers["X-Action"] == "RESUME"
    assert request.headers["X-Manifest-Digest-Algo"] == "SHA-512"
    assert request.headers["X-Manifest-Digest-Value"] == "abc123"  # compared as lowercase hex
    assert request.headers["Content-Length"] == str(sip.stat().st_size)
    assert not isinstance(stream, httpx.ByteStream)  # read from the file, not held in memory
    assert body == sip.read_bytes()


def test_ingest_is_never_retried(sip: Path) -> None:
    handler, seen = scripted(httpx.ConnectError("connection reset"))
    with pytest.raises(VitamTransportError, match="may have received the SIP") as caught:
        make(handler).ingest(sip)
    assert len(seen) == 1
    assert caught.value.http_code is None


def test_ingest_without_operation_id_is_an_error(sip: Path) -> None:
    handler, _ = scripted(httpx.Response(202))
    with pytest.raises(VitamError, match="no X-Request-Id"):
        make(handler).ingest(sip)


def test_ingest_error_keeps_the_request_id(sip: Path) -> None:
    body = {"httpCode": 500, "code": "040105", "message": "Ingest external internal server error"}
    handler, _ = scripted(httpx.Response(500, json=body, headers={"X-Request-Id": OPERATION}))
    with pytest.raises(VitamError) as caught:
        make(handler).ingest(sip)
    error = caught.value
    assert (error.http_code, error.vitam_code, error.request_id) == (500, "040105", OPERATION)
    assert str(error) == (f"HTTP 500, VitamCode 040105: Ingest external internal server error (request {OPERATION})")


# -- units ---------------------------------------------------------------------------------------


def test_units_by_operation_sends_the_dsl_and_the_access_contract() -> None:
    units = [{"#id": "aeaqaaaaaahk7bs6abo3walwa3jyaraaaaba", "#opi": OPERATION}]
    handler, seen = scripted(httpx.Response(200, json={"httpCode": 200, "$results": units}))
    assert make(handler).units_by_operation(OPERATION, limit=50) == units
    request = seen[0]
    assert (request.method, request.url.path) == ("GET", "/access-external/v1/units")
    assert request.headers["X-Access-Contract-Id"] == "AC-000001"
    assert json.loads(request.content) == {
        "$roots": [],
        "$query": [{"$eq": {"#opi": OPERATION}}],
        "$filter": {"$limit": 50},
        "$projection": {"$fields": {"#id": 1, "Title": 1, "#opi": 1, "#object": 1}},
    }


def test_units_need_an_access_contract() -> None:
    handler, seen = scripted(httpx.Response(200))
    with pytest.raises(ValueError, match="access contract"):
        make(handler, access_contract=None).units_by_operation(OPERATION)
    assert seen == []


def test_units_reads_are_retried_on_network_errors() -> None:
    handler, seen = scripted(httpx.ConnectError("refused"), httpx.Response(200, json={"$results": []}))
    sleeps: list[float] = []
    assert make(handler, sleeps).units_by_operation(OPERATION) == []
    assert len(seen) == 2
    assert sleeps == [2.0]


# -- error bodies --------------------------------------------------------------------------------

JETTY_PAGE = """<html><head><title>Error 412 {&quot;Error&quot;:&quot;X-Tenant-Id check failed!&quot;}</title></head>
<body><h2>HTTP ERROR 412 {&quot;Error&quot;:&quot;X-Tenant-Id check failed!&quot;}</h2></body></html>"""


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (httpx.Response(412, text='{"Error":"X-Tenant-Id check failed!"}'), None, "X-Tenant-Id check failed!"),
        (httpx.Response(412, text=JETTY_PAGE), None, "X-Tenant-Id check failed!"),
        (
            httpx.Response(
                401,
                json={
                    "httpCode": 401,
                    "code": "000700",
                    "state": "INTERNAL_SECURITY_UNAUTHORIZED",
                    "message": "Internal Security Filter Unauthorized",
                    "description": "Certificate revoked or not found in database.",
                },
            ),
            "000700",
            "Internal Security Filter Unauthorized: Certificate revoked or not found in database.",
        ),
        (httpx.Response(415, text=""), None, "Unsupported Media Type"),
        (httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>"), None, "502 Bad Gateway"),
    ],
)
def test_error_bodies_of_every_shape(answer: httpx.Response, code: str | None, message: str) -> None:
    error = VitamError.from_response(answer)
    assert error.http_code == answer.status_code
    assert error.vitam_code == code
    assert error.message == message
