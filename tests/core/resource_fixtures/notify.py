"""A helper module that publishes: the source of a function's handler never names the topic."""

import portafunc


def announce(order_id: str) -> None:
    portafunc.topic("order-events").publish({"id": order_id})
