"""The HTTP edge every router gets (adapter.http_edge, issue 16): limits, strict JSON, content
negotiation under /fhir only, every error an OperationOutcome, CPU work off the event loop,
/health, logs without patient data, OpenAPI bodies and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.types import Message, Scope

import adapter.http_edge
from adapter.api import create_app
from adapter.cli import main
from adapter.http_edge import (
    FHIR_JSON,
    EdgeMiddleware,
    JsonLogFormatter,
    Limits,
    json_body,
    parsed_json,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

#: bodies over 16 bytes are parsed in the thread pool, smaller ones on the event loop
LIMITS = Limits(max_body=2_000, max_depth=8, body_timeout=5, inline_json=16)
FHIR = {"content-type": FHIR_JSON}
PATIENT = b'{"resourceType": "Patient"}'


def _cds_router() -> APIRouter:
    """A stand-in for a plain-JSON router outside /fhir (CDS Hooks speaks application/json)."""
    router = APIRouter()

    @router.post("/plain-json/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @router.post("/parsed")
    async def parsed(request: Request) -> dict[str, Any]:
        found = parsed_json(request)
        return {"parsed": found[0], "size": found[1]} if found else {"parsed": None, "size": None}

    @router.post("/json-body")
    async def body_of(request: Request) -> dict[str, Any]:
        try:
            return {"body": await json_body(request)}
        except ValueError:
            return {"error": "not JSON"}

    @router.get("/fhir/boom")
    def boom() -> None:
        raise ValueError("patient Р-1001 leaked")

    return router


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_app(limits=LIMITS)
    app.include_router(_cds_router())
    return TestClient(app, raise_server_exceptions=False)


def _assert_outcome(response: Any, status: int, text: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    assert text in body["issue"][0]["diagnostics"]


def test_unknown_path_and_wrong_method_are_operation_outcomes(client: TestClient) -> None:
    _assert_outcome(client.get("/nowhere"), 404)
    _assert_outcome(client.get("/fhir/$validate"), 405)


def test_an_unexpected_exception_is_a_500_outcome_without_its_message(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "ball_fhir"):
        response = client.get("/fhir/boom")
    _assert_outcome(response, 500, "internal error")
    assert "Р-1001" not in response.text
    assert "Р-1001" not in caplog.text
    assert [r.__dict__.get("exception") for r in caplog.records] == ["ValueError"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"x" * 2_001, "larger than the limit of 2000 bytes"),
        (b"[" + b"1," * 1_500 + b"1]", "larger than the limit"),
    ],
)
def test_a_body_over_the_limit_is_413(client: TestClient, body: bytes, text: str) -> None:
    _assert_outcome(client.post("/fhir/$validate", content=body, headers=FHIR), 413, text)


def test_a_body_over_the_limit_without_content_length_is_413(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(30):
            yield b" " * 100

    response = client.post("/fhir/$validate", content=chunks(), headers=FHIR)
    _assert_outcome(response, 413)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"resourceType": "Patient", "x": NaN}', "not valid JSON"),
        (b'{"resourceType": "Patient", "x": Infinity}', "not valid JSON"),
        (b'{"resourceType": "Patient", "x": "\\ud800"}', "surrogate"),
        (b'{"resourceType": "Patient", "x": "\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"resourceType": "Patient", "x": 1' + b"0" * 400 + b"}", "not valid JSON"),
        (b'{"resourceType": "Patient", "x": ' + b"[" * 9 + b"]" * 9 + b"}", "deeper than 8"),
        (b"[" * 1_000 + b"]" * 1_000, "deeper than 8"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_bad_json_is_400_before_any_route_parses_it(
    client: TestClient, body: bytes, text: str
) -> None:
    for path in ("/fhir/$validate", "/fhir/PlanDefinition/all-rez-2016/$apply"):
        _assert_outcome(client.post(path, content=body, headers=FHIR), 400, text)


def test_nesting_at_the_limit_is_accepted(client: TestClient) -> None:
    body = b'{"resourceType": "Patient", "x": ' + b"[" * 7 + b"]" * 7 + b"}"
    assert client.post("/fhir/$validate", content=body, headers=FHIR).status_code == 200


def test_wrong_content_type_under_fhir_is_415(client: TestClient) -> None:
    for content_type in ("application/fhir+xml", "text/plain", "application/x-www-form-urlencoded"):
        response = client.post(
            "/fhir/$validate", content=PATIENT, headers={"content-type": content_type}
        )
        _assert_outcome(response, 415, "send FHIR JSON")
    for content_type in (FHIR_JSON, "application/json", f"{FHIR_JSON}; charset=utf-8"):
        response = client.post(
            "/fhir/$validate", content=PATIENT, headers={"content-type": content_type}
        )
        assert response.status_code == 200, content_type


def test_asking_for_xml_is_406(client: TestClient) -> None:
    _assert_outcome(client.get("/fhir/metadata", headers={"accept": "application/fhir+xml"}), 406)
    _assert_outcome(client.get("/fhir/metadata?_format=xml"), 406)
    _assert_outcome(client.get("/fhir/metadata?_format=application/fhir%2Bxml"), 406)
    for accept in ("application/fhir+json", "application/json", "*/*", "text/html, */*;q=0.1"):
        assert client.get("/fhir/metadata", headers={"accept": accept}).status_code == 200
    for fmt in ("json", "application/fhir+json", "application/fhir%2Bjson"):
        assert client.get(f"/fhir/metadata?_format={fmt}").status_code == 200


def test_plain_json_routes_outside_fhir_are_not_negotiated(client: TestClient) -> None:
    headers = {"content-type": "application/json", "accept": "application/json"}
    response = client.post("/plain-json/echo", content=b'{"hook": "x"}', headers=headers)
    assert response.status_code == 200
    assert response.json() == {"hook": "x"}
    # but still guarded: bad JSON and bad parameters are 400 OperationOutcomes, not 422
    _assert_outcome(client.post("/plain-json/echo", content=b"[NaN]", headers=headers), 400)
    _assert_outcome(client.post("/plain-json/echo", content=b"[1]", headers=headers), 400)


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_large_json_is_parsed_off_the_event_loop_small_json_on_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_loop: list[bool] = []
    real = adapter.http_edge.parse_json

    def recording(body: bytes, depth: int) -> tuple[Any, str | None]:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # a worker thread runs no event loop
            on_loop.append(False)
        return real(body, depth)

    monkeypatch.setattr(adapter.http_edge, "parse_json", recording)
    assert len(PATIENT) > LIMITS.inline_json
    client.post("/fhir/$validate", content=PATIENT, headers=FHIR)
    small = b'{"a": 1}'
    assert len(small) <= LIMITS.inline_json
    headers = {"content-type": "application/json"}
    assert client.post("/plain-json/echo", content=small, headers=headers).json() == {"a": 1}
    assert on_loop == [False, True]


def test_routes_read_the_body_the_edge_parsed(client: TestClient) -> None:
    body = b'{"resourceType": "Patient", "id": "p1"}'
    answer = client.post("/parsed", content=body, headers=FHIR).json()
    assert answer == {"parsed": {"resourceType": "Patient", "id": "p1"}, "size": len(body)}
    # no JSON content type: not parsed by the edge
    plain = client.post("/parsed", content=body, headers={"content-type": "text/plain"})
    assert plain.json() == {"parsed": None, "size": None}


def test_json_body_is_the_edge_parse_else_parsed_by_the_route(client: TestClient) -> None:
    body = b'{"resourceType": "Patient", "id": "p1"}'
    expected = {"body": {"resourceType": "Patient", "id": "p1"}}
    assert client.post("/json-body", content=body, headers=FHIR).json() == expected
    # a content type the edge does not parse: the route parses the bytes itself
    plain = {"content-type": "text/plain"}
    assert client.post("/json-body", content=body, headers=plain).json() == expected
    assert client.post("/json-body", content=b"{nope", headers=plain).json() == {
        "error": "not JSON"
    }
    assert client.post("/json-body", content=b"  ", headers=plain).json() == {"body": None}


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"[" * 8 + b"]" * 8, False),
        (b"[" * 9 + b"]" * 9, True),
        (b'{"a": [{"b": [[1, 2], {"c": []}]}]}', False),  # depth 6
        (b'{"a": [{"b": [[1, 2], {"c": [[[{}]]]}]}]}', True),  # an empty object at depth 9
        (b'["[[[[[[[[[[[[["]', False),  # brackets in a string do not nest
        (b"{" + b'"k": {' * 7 + b"}" * 8, False),
        (b"{" + b'"k": {' * 8 + b"}" * 9, True),
        (b"1", False),
    ],
)
def test_nesting_limit_is_exact(body: bytes, deeper: bool) -> None:
    parsed, problem = adapter.http_edge.parse_json(body, 8)
    assert (problem is not None) == deeper, problem
    if not deeper:
        assert parsed == json.loads(body)


def test_access_log_lines_are_json_without_query_or_body(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "ball_fhir.access"):
        client.post(
            "/fhir/Patient/$validate?profile=urn:secret-Р-1001",
            content=b'{"resourceType": "Patient", "id": "secret-P001"}',
            headers=FHIR,
        )
    record = caplog.records[-1]
    line = json.loads(JsonLogFormatter().format(record))
    assert line["path"] == "/fhir/{resource_type}/$validate"
    assert (line["method"], line["status"], line["logger"]) == ("POST", 400, "ball_fhir.access")
    assert "secret" not in json.dumps(line)


def test_openapi_declares_fhir_bodies_and_error_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    validate = schema["paths"]["/fhir/$validate"]["post"]
    assert FHIR_JSON in validate["requestBody"]["content"]
    for status in ("400", "404", "405", "406", "413", "415", "500"):
        content = validate["responses"][status]["content"][FHIR_JSON]
        assert content["schema"] == {"$ref": "#/components/schemas/OperationOutcome"}
    assert "422" not in validate["responses"]
    assert "OperationOutcome" in schema["components"]["schemas"]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALL_FHIR_MAX_BODY", "1000")
    monkeypatch.setenv("BALL_FHIR_MAX_DEPTH", "5")
    monkeypatch.setenv("BALL_FHIR_BODY_TIMEOUT", "2.5")
    assert Limits.from_environment() == Limits(1000, 5, 2.5)
    monkeypatch.setenv("BALL_FHIR_MAX_BODY", "lots")
    with pytest.raises(ValueError, match="BALL_FHIR_MAX_BODY must be a number"):
        Limits.from_environment()


def test_serve_refuses_bad_settings_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BALL_FHIR_MAX_DEPTH", "-1")
    assert main(["serve"]) == 2
    assert "BALL_FHIR_MAX_DEPTH must be positive" in capsys.readouterr().err
    monkeypatch.delenv("BALL_FHIR_MAX_DEPTH")
    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    assert main(["serve"]) == 2
    assert "WEB_CONCURRENCY must be a whole number" in capsys.readouterr().err


def test_serve_takes_workers_host_and_port_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from adapter.cli import serve

    seen: dict[str, Any] = {}

    def record(app: str, **kwargs: Any) -> int:
        seen.update(kwargs, app=app)
        return 0

    monkeypatch.setattr(serve, "serve", record)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("BALL_FHIR_HOST", "0.0.0.0")
    monkeypatch.setenv("BALL_FHIR_PORT", "9000")
    assert main(["serve"]) == 0
    assert (seen["workers"], seen["host"], seen["port"]) == (3, "0.0.0.0", 9000)
    assert (seen["app"], seen["access_log"]) == ("adapter.api:create_app", False)
    assert main(["serve", "--workers", "2", "--port", "9001"]) == 0
    assert (seen["workers"], seen["port"]) == (2, 9001)


def test_a_slow_upload_is_408() -> None:
    """A body that stops arriving is answered 408 after the timeout (driven through ASGI)."""
    import anyio

    middleware = EdgeMiddleware(FastAPI(), Limits(body_timeout=0.05))
    sent: list[Message] = []

    async def receive() -> Message:
        if not sent and not getattr(receive, "started", False):
            receive.started = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"{", "more_body": True}
        await anyio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/fhir/$validate",
        "headers": [(b"content-type", b"application/fhir+json")],
        "query_string": b"",
    }
    anyio.run(middleware, scope, receive, send)
    assert sent[0]["status"] == 408
    assert b"did not arrive within 0.05 s" in sent[1]["body"]
