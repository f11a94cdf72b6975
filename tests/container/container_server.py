"""What the container server tests share: the events secret and a handle on the running server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SECRET = "s3cret-events-token-0123456789"


class Server:
    def __init__(self, port: int, log: Path, stderr: Path) -> None:
        self.port, self.log, self.stderr = port, log, stderr
        self.url = f"http://127.0.0.1:{port}"

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def clear(self) -> None:
        self.log.write_text("")
