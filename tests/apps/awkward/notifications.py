"""Publishing lives in a helper module: no handler's own source names the topic."""

from __future__ import annotations

import portafunc


def order_event(kind: str, order_id: str) -> None:
    portafunc.topic("order-events").publish({"id": order_id}, attributes={"kind": kind})
