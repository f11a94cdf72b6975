"""Reading a streamed HTTP response off a raw socket: what arrived before the app was let go on, and the body."""

from __future__ import annotations

import socket
from pathlib import Path


def read_stream(port: int, path: str, gate: Path) -> tuple[bytes, bytes]:
    """GET ``path?gate=FILE`` on a raw socket; returns (what had arrived when the first piece did, the whole decoded
    body). The gate file is created only once the first piece arrived: a server that buffers the body never sends
    it, and the socket timeout turns that into a failure instead of a hang."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(f"GET {path}?gate={gate} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"first\n" not in data:
            piece = sock.recv(65536)
            assert piece, f"connection closed before the first piece: {data!r}"
            data += piece
        before_gate = data
        gate.touch()
        while piece:
            piece = sock.recv(65536)
            data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    return before_gate, dechunk(body)


def dechunk(body: bytes) -> bytes:
    """The body of a chunked transfer encoding, which must end with its last (empty) chunk: never cut short."""
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            assert body.startswith(b"\r\n") or body.endswith(b"\r\n"), body
            return out
        out, body = out + body[:size], body[size + 2:]
