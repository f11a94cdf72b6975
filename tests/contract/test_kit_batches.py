"""``cloud.enqueue`` takes a list (or tuple) of payloads, one message each; a single payload given as ``items`` (a
dict would be iterated into one message per key, a string into one per character) or an empty batch is the kit's
ContractError, on every target, before anything is delivered."""

from __future__ import annotations

from typing import Any

import pytest

from portafunc import App, Message
from portafunc.testing import ContractError


def _app(seen: list[Any]) -> App:
    app = App("kitbatches")

    @app.queue("rows")
    def handle(msg: Message) -> None:
        seen.append(msg.json())

    return app


@pytest.mark.parametrize("items", [{"file": "f", "sku": "A", "qty": 1}, "abc", b"abc", 5, None,
                                   (x for x in [{"a": 1}]), {"a", "b"}])
def test_a_single_payload_as_items_is_refused(cloud: Any, items: Any) -> None:
    seen: list[Any] = []
    with pytest.raises(ContractError, match=r"items must be a list of payloads, one per message, not .*\[payload\]"):
        cloud.enqueue(_app(seen), "rows", items)
    assert seen == [] and cloud.exchanges == []


def test_an_empty_batch_is_refused(cloud: Any) -> None:
    seen: list[Any] = []
    with pytest.raises(ContractError, match="items is empty"):
        cloud.enqueue(_app(seen), "rows", [])
    assert seen == [] and cloud.exchanges == []


def test_a_list_or_a_tuple_is_one_message_per_item(cloud: Any) -> None:
    seen: list[Any] = []
    app = _app(seen)
    one = cloud.enqueue(app, "rows", [{"file": "f", "sku": "A", "qty": 1}])
    assert one.ok and len(one.ids) == 1 and seen == [{"file": "f", "sku": "A", "qty": 1}]
    two = cloud.enqueue(app, "rows", ({"n": 1}, [1, 2]))
    assert two.ok and len(two.ids) == 2 and seen[1:] == [{"n": 1}, [1, 2]]


def test_publish_takes_one_payload_even_a_list(cloud: Any) -> None:
    seen: list[Any] = []
    app = App("kitpublish")

    @app.topic("news")
    def read(msg: Message) -> None:
        seen.append(msg.json())

    assert cloud.publish(app, "news", [1, 2]).ok and seen == [[1, 2]]
