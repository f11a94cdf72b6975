"""GCP event shapes and neutral events, both ways: :mod:`.shapes` detects and decodes every shape portafunc accepts
and encodes each variant; :mod:`.http` reads and writes HTTP requests.

Only the HTTP codec loads with this package. :mod:`.shapes`, and with it the Pub/Sub, storage, schedule and legacy
codecs, loads on the first use of one of its names here (``codecs.decode``, ``codecs.pubsub``, ...), so the cold start
of an app without event functions (HTTP routes, a mounted web app) does not pay for them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import legacy, pubsub, schedule, storage
    from .shapes import (ACCEPTED, EXTRA_VARIANTS, VARIANTS, binary_to_structured, decode, decode_cloudevent,
                         decode_http, encode, is_structured)

from . import http

_FROM_SHAPES = frozenset({"ACCEPTED", "EXTRA_VARIANTS", "VARIANTS", "binary_to_structured", "decode",
                          "decode_cloudevent", "decode_http", "encode", "is_structured", "legacy", "pubsub", "schedule",
                          "storage", "shapes"})


def __getattr__(name: str) -> Any:
    """A name of :mod:`.shapes` (or one of the codecs it loads), imported on first use and kept in this module."""
    if name not in _FROM_SHAPES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # an absolute import, not "from . import": that form asks this package for the name first, which calls this again
    import portafunc_gcp.codecs.shapes as shapes  # noqa: PLC0415

    value = shapes if name == "shapes" else getattr(shapes, name)
    globals()[name] = value
    return value


__all__ = ["ACCEPTED", "EXTRA_VARIANTS", "VARIANTS", "binary_to_structured", "decode", "decode_cloudevent",
           "decode_http", "encode", "http", "is_structured", "legacy", "pubsub", "schedule", "storage"]
