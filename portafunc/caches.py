"""Bounded caches that start over when full.

portafunc keeps small caches keyed by what arrives (header names, hosts, route keys, log texts, functions): a key
seen once (a junk request, a text carrying an id, an app of a test run) must not keep the keys that repeat out of
the cache for the life of the process. Emptying a full cache and keeping the next key costs one refill, once in a
while; an LRU would charge its bookkeeping to every hit, and the hits are the hot path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not loaded at run time (cold start)
if TYPE_CHECKING:
    from typing import TypeVar

    K = TypeVar("K")
    V = TypeVar("V")


def keep(cache: dict[K, V], key: K, value: V, bound: int) -> V:
    """``cache[key] = value``, first emptying ``cache`` when it holds ``bound`` entries; returns ``value``."""
    if len(cache) >= bound:
        cache.clear()
    cache[key] = value
    return value


def keep_member(cache: set[K], member: K, bound: int) -> None:
    """``cache.add(member)``, first emptying ``cache`` when it holds ``bound`` members."""
    if len(cache) >= bound:
        cache.clear()
    cache.add(member)
