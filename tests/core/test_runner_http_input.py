"""Bad HTTP input against the real ``portafunc run`` server, over raw sockets (a subprocess, as users run it).

What must hold: the body limit is checked before any body byte is read (413, even for a Content-Length of a
terabyte), a silent client gets 408, a body shorter than announced is never dispatched (400), chunked bodies obey
the same rules, a response header that would split the response never reaches the wire, and the limit follows
``--target``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Iterator

import pytest
from test_runner import Runner, start

HTTPIN = Path(__file__).resolve().parent / "runner_fixtures" / "httpin"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    r = start(HTTPIN, tmp_path_factory.mktemp("httpin"), "--no-reload", PORTAFUNC_RUN_READ_TIMEOUT="1")
    yield r
    assert r.stop() == 0, r.stderr


def exchange(runner: Runner, raw: bytes, *, close_write: bool = False) -> tuple[int, dict[str, str], bytes, bytes]:
    """Send ``raw``, read until the server closes (or 20 s), return (status, headers, body, raw response)."""
    with socket.create_connection(("127.0.0.1", runner.port), timeout=20) as s:
        s.sendall(raw)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body, data


def post(path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def problem(status: int, headers: dict[str, str], body: bytes) -> dict:
    assert headers["content-type"] == "application/problem+json"
    doc = json.loads(body)
    assert doc["status"] == status
    return doc


def test_the_limit_is_checked_before_reading_a_terabyte_content_length(runner: Runner) -> None:
    status, headers, body, _ = exchange(runner, post("/size", {"Content-Length": str(10 ** 12)}))
    assert status == 413 and headers["connection"] == "close"
    assert f"the limit is {6 * MIB}" in problem(413, headers, body)["detail"]
    assert runner.records(fn="size") == []
    status, _, body, _ = exchange(runner, post("/size", {"Content-Length": "3"}, b"abc"))
    assert (status, json.loads(body)) == (200, {"size": 3})  # still serving


def test_the_default_limit_is_lambdas_six_mib(runner: Runner) -> None:
    status, headers, body, _ = exchange(runner, post("/size", {"Content-Length": str(6 * MIB + 1)}))
    assert status == 413
    assert "(not dispatched) 413" in runner.stderr


def test_expect_100_continue_over_the_limit_gets_413_and_no_invitation(runner: Runner) -> None:
    status, headers, body, raw = exchange(runner, post("/size", {"Content-Length": str(7 * MIB),
                                                                 "Expect": "100-continue"}))
    assert status == 413 and b"100 Continue" not in raw


def test_a_short_body_is_never_dispatched(runner: Runner) -> None:
    status, headers, body, _ = exchange(runner, post("/size", {"Content-Length": "10"}, b"abcdefg"),
                                        close_write=True)
    assert status == 400
    assert problem(400, headers, body)["detail"] == "the body ended after 7 of 10 announced bytes"
    assert runner.records(fn="size", size=7) == []


def test_a_silent_client_gets_408(runner: Runner) -> None:
    """PORTAFUNC_RUN_READ_TIMEOUT=1 for this runner; the client sends 3 of 10 bytes and then nothing."""
    status, headers, body, _ = exchange(runner, post("/size", {"Content-Length": "10"}, b"abc"))
    assert status == 408 and headers["connection"] == "close"
    assert "3 of 10 received" in problem(408, headers, body)["detail"]


def test_headers_that_never_end_get_408(runner: Runner) -> None:
    status, headers, body, _ = exchange(runner, b"POST /size HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")
    assert status == 408


def test_chunked_bodies_obey_the_limit_and_are_never_dispatched_short(runner: Runner) -> None:
    ok = post("/size", {"Transfer-Encoding": "chunked"}, b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    status, _, body, _ = exchange(runner, ok)
    assert (status, json.loads(body)) == (200, {"size": 5})
    too_big = post("/size", {"Transfer-Encoding": "chunked"}, b"%x\r\n" % (7 * MIB))
    status, headers, body, _ = exchange(runner, too_big)
    assert status == 413  # its size is not known: reading stopped at the chunk that goes past the limit
    assert problem(413, headers, body)["detail"] == f"request body is more than {6 * MIB} bytes; the limit is {6 * MIB}"
    first = b"x" * (5 * MIB)
    two_chunks = post("/size", {"Transfer-Encoding": "chunked"}, b"%x\r\n%s\r\n%x\r\n" % (len(first), first, 2 * MIB))
    status, headers, body, _ = exchange(runner, two_chunks)
    assert status == 413
    assert problem(413, headers, body)["detail"] == f"request body is more than {6 * MIB} bytes; the limit is {6 * MIB}"
    assert runner.records(fn="size", size=len(first)) == []
    short = post("/size", {"Transfer-Encoding": "chunked"}, b"5\r\nab")
    assert exchange(runner, short, close_write=True)[0] == 400
    both = post("/size", {"Transfer-Encoding": "chunked", "Content-Length": "5"}, b"0\r\n\r\n")
    assert exchange(runner, both)[0] == 400


@pytest.mark.parametrize("raw, expected", [
    (b"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"BREW /x HTTP/1.1\r\nHost: x\r\n\r\n", 501),
])
def test_the_servers_own_refusals_are_problem_json(runner: Runner, raw: bytes, expected: int) -> None:
    status, headers, body, _ = exchange(runner, raw)
    assert status == expected
    problem(expected, headers, body)


def test_conflicting_content_lengths_are_refused(runner: Runner) -> None:
    raw = b"POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
    assert exchange(runner, raw)[0] == 400


def test_deeply_nested_json_is_a_400_problem(runner: Runner) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status, headers, body, _ = exchange(runner, post("/parse", {"Content-Length": str(len(deep))}, deep))
    assert status == 400 and "nested too deeply" in problem(400, headers, body)["detail"]


@pytest.mark.parametrize("evil", ["a%0D%0ASet-Cookie:%20admin=1", "a%0AX-Injected:%201", "a%00b"])
def test_a_header_echo_cannot_split_the_response(runner: Runner, evil: str) -> None:
    raw = f"GET /header?v={evil} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    status, headers, body, wire = exchange(runner, raw)
    assert status == 500
    problem(500, headers, body)
    assert b"admin=1" not in wire and b"X-Injected" not in wire and "x-echo" not in headers


def test_the_limit_follows_the_target(tmp_path: Path) -> None:
    """The smaller of the cloud's limit and the pipeline's (PORTAFUNC_MAX_BODY_BYTES, 10 MiB by default)."""
    gcp = start(HTTPIN, tmp_path, "--no-reload", "--target", "gcp", PORTAFUNC_MAX_BODY_BYTES=str(64 * MIB))
    try:
        assert "request bodies up to 33,554,432 bytes" in gcp.stderr
        body = b"x" * (7 * MIB)  # over Lambda's limit, within Cloud Run functions' 32 MiB
        status, _, answer, _ = exchange(gcp, post("/size", {"Content-Length": str(len(body))}, body))
        assert (status, json.loads(answer)) == (200, {"size": 7 * MIB})
        assert exchange(gcp, post("/size", {"Content-Length": str(32 * MIB + 1)}))[0] == 413
    finally:
        assert gcp.stop() == 0, gcp.stderr
    azure = start(HTTPIN, tmp_path, "--no-reload", "--target", "azure")
    try:
        assert "request bodies up to 10,485,760 bytes" in azure.stderr  # the pipeline's default is the smaller
        assert exchange(azure, post("/size", {"Content-Length": str(10 * MIB + 1)}))[0] == 413
    finally:
        assert azure.stop() == 0, azure.stderr


@pytest.mark.parametrize("code", ["99", "600", "-1"])
def test_a_status_set_after_the_response_was_built_never_reaches_the_status_line(runner: Runner, code: str) -> None:
    """Building a response with such a status fails in the function (a 500 of the pipeline); one set on it afterwards
    is refused here, the last line: a 500 problem, logged with the reason, never an invalid status line."""
    status, headers, body, wire = exchange(runner, f"GET /status?code={code} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 500 and wire.startswith(b"HTTP/1.1 500 ")
    assert problem(500, headers, body)["detail"] == "the function set a status that cannot be sent"
    assert f"HTTP status {code} is not one a response can carry" in runner.stderr
    assert exchange(runner, b"GET /status?code=201 HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 201


def test_a_head_answer_states_the_length_of_the_get_body(runner: Runner) -> None:
    status, headers, body, _ = exchange(runner, b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, headers["content-length"], body) == (200, "26", b"a page of twenty-six bytes")
    with socket.create_connection(("127.0.0.1", runner.port), timeout=20) as s:
        s.sendall(b"HEAD /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nContent-Length: 26\r\n" in head + b"\r\n" and rest == b""
