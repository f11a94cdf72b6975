"""Topic functions receive the same push formats as queue functions (:mod:`.queue` holds the codec): a topic's
subscription pushes one message per request, with the subscription's attempts and dead letter."""

from __future__ import annotations

from .queue import VARIANTS, decode, encode, from_cloudevent, from_envelope

__all__ = ["VARIANTS", "decode", "encode", "from_cloudevent", "from_envelope"]
