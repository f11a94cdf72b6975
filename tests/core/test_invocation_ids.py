"""Invocation ids (``portafunc.context.new_id``): random bytes are read in blocks, and every id is still random,
unique and never shared with a forked child."""

from __future__ import annotations

import os
import re

import pytest

from portafunc.context import new_id


def test_ids_are_32_hex_digits_and_unique_across_many_blocks():
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_never_takes_an_id_its_parent_takes():
    new_id()  # the parent holds a block of ids read ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, written to the parent
        try:
            os.write(write, " ".join(new_id() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_id() for _ in range(100)}
    assert len(child) == 5 and not child & parent
