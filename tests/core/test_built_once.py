"""``portafunc.lazy.built_once``: the backends' clients are built on first use, once per backend even when threads
race for it, and a build that fails (a variable not set yet) is tried again on the next use."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from portafunc.lazy import built_once

REPO = Path(__file__).resolve().parents[2]


class Backend:
    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.builds = 0
        self.fail = False

    @built_once
    def client(self) -> str:
        """The client of this backend."""
        self.builds += 1
        if self.fail:
            raise LookupError(f"{self.name}: no connection string")
        time.sleep(self.delay)  # a slow build: racing threads all arrive while it runs
        return f"client of {self.name} #{self.builds}"


def test_the_first_read_builds_and_every_later_read_gets_the_same_value() -> None:
    backend = Backend("a")
    first = backend.client
    assert first == "client of a #1"
    assert backend.client is first
    assert backend.builds == 1


def test_threads_racing_for_the_first_read_build_once_and_all_get_that_value() -> None:
    backend = Backend("a", delay=0.05)
    start = threading.Barrier(8)
    seen: list[str] = []

    def read() -> None:
        start.wait()
        seen.append(backend.client)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.builds == 1
    assert seen == ["client of a #1"] * 8


def test_each_instance_has_its_own_value_and_a_slow_build_does_not_hold_up_another_instance() -> None:
    slow, quick = Backend("slow", delay=2.0), Backend("quick")
    reader = threading.Thread(target=lambda: slow.client)
    reader.start()
    try:
        while "_client_lock" not in vars(slow):  # the slow build has its lock
            time.sleep(0.001)
        assert quick.client == "client of quick #1"
        assert reader.is_alive()  # answered while the other instance's build was still running
    finally:
        reader.join()
    assert slow.client == "client of slow #1"


def test_a_failed_build_stores_nothing_and_the_next_read_tries_again() -> None:
    backend = Backend("a")
    backend.fail = True
    with pytest.raises(LookupError, match="no connection string"):
        _ = backend.client
    with pytest.raises(LookupError):
        _ = backend.client
    backend.fail = False
    assert backend.client == "client of a #3"
    assert backend.builds == 3


def test_read_on_the_class_it_is_the_descriptor_with_the_builds_docstring() -> None:
    assert isinstance(Backend.client, built_once)
    assert Backend.client.__doc__ == "The client of this backend."


def test_no_backend_keeps_a_hand_written_lock_guarded_client() -> None:
    """Every backend of the adapters builds its client with built_once: a lock and a double check written by hand
    is the shape this replaced (the AWS backends share their clients per service, region and timeout tier)."""
    hand_written = [path.relative_to(REPO).as_posix()
                    for path in sorted(REPO.glob("adapters/*/portafunc_*/backends/*.py"))
                    if "self._lock = threading.Lock()" in path.read_text(encoding="utf-8")
                    and "if self._client is None:" in path.read_text(encoding="utf-8")]
    assert hand_written == []
