"""Which storage events a storage function receives: the kinds it registered for, keys within its prefix/suffix.

Every target calls this before running a storage handler, whether or not its platform filters first: S3 and Event
Grid filter by prefix/suffix at the source, Eventarc cannot filter by name at all, and none of them filters by
portafunc's neutral kinds exactly (an S3 ``ObjectRestore:*`` rule, an Event Grid subscription shared by two functions,
a queue fed by several notifications). An event that is not wanted is acknowledged without running the handler.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..app import StorageTrigger
    from ..events import StorageEvent


def wanted(trigger: StorageTrigger, event: StorageEvent) -> bool:
    """True when ``event`` is one of ``trigger``'s kinds and its key starts with its prefix and ends with its suffix."""
    return event.kind in trigger.events and event.key.startswith(trigger.prefix) and event.key.endswith(trigger.suffix)


def select(trigger: StorageTrigger, events: Iterable[StorageEvent]) -> list[StorageEvent]:
    """The events of ``events`` the trigger wants, in order; the others are logged at DEBUG and left out."""
    chosen: list[StorageEvent] = []
    for event in events:
        if wanted(trigger, event):
            chosen.append(event)
        else:
            from .. import logs

            if logs.debug_enabled():
                logs.log("DEBUG", "storage event not for this function: acknowledged without running it",
                         kind=event.kind, bucket=event.bucket, wanted_kinds=list(trigger.events),
                         prefix=trigger.prefix, suffix=trigger.suffix)
    return chosen
