"""Typed parameters, content negotiation and forms through ``portafunc run``'s real HTTP server (the cases
tests/contract/test_typed_params.py runs on the clouds' entry points), over a socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from test_runner import Runner, start

APP = Path(__file__).resolve().parent / "runner_fixtures" / "typed_params"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = start(APP, tmp_path_factory.mktemp("typed-params"), "--no-reload")
    yield runner
    assert runner.stop() == 0, runner.stderr


def test_typed_parameters_are_converted(served: Runner) -> None:
    status, _, body = served.request("GET", "/orders/7?limit=3", headers={"X-Tenant": "acme"})
    assert status == 200 and json.loads(body) == {"number": 7, "limit": 3, "tenant": "acme"}


def test_failing_parameters_are_one_400_problem(served: Runner) -> None:
    status, headers, body = served.request("GET", "/orders/seven?limit=many")
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert [(e["in"], e["loc"]) for e in json.loads(body)["errors"]] == [("path", ["number"]), ("query", ["limit"])]


def test_a_typed_body_needs_json(served: Runner) -> None:
    doc = {"id": "o-1", "total": 2.5}
    assert served.post_json("/orders", doc)[:3:2] == (200, b'{"id":"o-1","total":2.5}')
    status, _, body = served.request("POST", "/orders", json.dumps(doc).encode(), {"Content-Type": "text/plain"})
    assert status == 415 and json.loads(body)["title"] == "Unsupported Media Type"


def test_a_multipart_upload_is_parsed(served: Runner) -> None:
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nscan\r\n"
            b"--XX\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"s.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + b"\x89PNG\r\n\x1a\n" * 100 + b"\r\n--XX--\r\n")
    status, _, answer = served.request("POST", "/upload", body, {"Content-Type": "multipart/form-data; boundary=XX"})
    assert status == 200 and json.loads(answer) == {"title": "scan", "size": 800}
