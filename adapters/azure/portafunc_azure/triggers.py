"""The Azure trigger table: what each neutral trigger becomes on Azure (:func:`check_trigger`), and the Azure names
derived from portafunc names, in one place so the generator, runtime, backends and packager agree.

The runtime reads its setting names from here on every cold start, so what only packaging and ``inspect`` ask for
(``portafunc.targets``, the schedule dialect) is imported when first asked for, not with the module."""

from __future__ import annotations

import re

from portafunc.app import App, FunctionSpec, HttpTrigger, QueueTrigger, ScheduleTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import UnsupportedTrigger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from portafunc.routing import Route
    from portafunc.schedule import CronDialect
    from portafunc.targets import NativeTrigger

    SCHEDULE_DIALECT: CronDialect

STORAGE_CONNECTION = "AzureWebJobsStorage"  # the app setting the queue trigger and the poison sender read
ROUTE_PREFIX_SETTING = "PORTAFUNC_AZURE_ROUTE_PREFIX"  # host.json's routePrefix; portafunc writes "" (no /api)
QUEUE_NAME_MAX = 63  # Storage's limit on a queue name, poison queues included


def queue_name(logical: str) -> str:
    """A Storage Queue name (3-63 chars, lower-case letters, digits, single hyphens) for a logical queue name."""
    name = re.sub(r"[^a-z0-9-]", "-", logical.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")
    if len(name) < 3:
        name = (name + "-queue").strip("-")
    return name[:QUEUE_NAME_MAX].rstrip("-")


def poison_queue_name(queue: str) -> str:
    """The Functions host's poison queue for ``queue``: ``<queue>-poison``."""
    return f"{queue}-poison"


def function_name(name: str) -> str:
    """A valid Azure function name (letter first; letters, digits, ``_``, ``-``; at most 127 chars)."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if not clean[:1].isalpha():
        clean = "f_" + clean
    return clean[:127]


def python_name(name: str) -> str:
    return "fn_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def route_template(route: Route) -> str:
    """``/orders/{shop}`` → ``orders/{shop}``; greedy ``{path+}`` → Azure's catch-all ``{*path}``."""
    text = route.template.lstrip("/")
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\+\}", r"{*\1}", text)


def http_methods(spec: FunctionSpec) -> list[str]:
    trig = spec.trigger
    assert isinstance(trig, HttpTrigger)
    methods = list(trig.methods)
    if "GET" in methods and "HEAD" not in methods:
        methods.append("HEAD")  # the core answers HEAD for GET routes; Azure must route it to the function
    if "OPTIONS" not in methods and preflight_function(spec) is spec:
        methods.append("OPTIONS")  # the host hands this function every OPTIONS of the route: the runtime answers
        # it for the whole path (Runtime._options_for_preflights), never through the function
    return methods


def preflight_function(spec: FunctionSpec) -> FunctionSpec | None:
    """The one function of ``spec``'s route template that receives its CORS preflights: the first registered one
    with a CORS policy, when no function serves ``OPTIONS`` on that template itself (Azure routes one method of
    one template to one function). The core answers the preflight with the policy of the method asked for."""
    trig = spec.trigger
    assert isinstance(trig, HttpTrigger)
    same = [f for f in spec.app.http_functions() if f.trigger.route.template == trig.route.template]  # type: ignore[union-attr]
    if any("OPTIONS" in f.trigger.methods for f in same):  # type: ignore[union-attr]
        return None
    from portafunc.cors import policy

    return next((f for f in same if policy(f.app, f) is not None), None)


#: The route of the app's catch-all function: every path (``{*…}`` also matches the root); a parameter name no app
#: route uses, so the host's duplicate-route check never sees a clash.
UNMATCHED_ROUTE = "{*portafunc_unmatched_path}"


def unmatched_function_name(app: App) -> str:
    """The catch-all function's name: it must sort after every other function's, as the Functions host orders HTTP
    routes by function name (ordinal, ignoring case: FunctionMetadataManager) and takes the first route that matches
    (ASP.NET's RouteCollection), whatever the templates' specificity. ``zz_portafunc_unmatched`` sorts after every
    usual name (``_`` comes after every letter and digit once upper-cased); an app whose own name sorts later gets
    that name with ``_`` appended, which sorts after it."""
    name = "zz_portafunc_unmatched"
    last = max((function_name(spec.name) for spec in app), key=str.upper, default="")
    if last.upper() >= name.upper():
        name = last + "_"
    return name


def check_trigger(spec: FunctionSpec) -> NativeTrigger:
    """What ``spec`` becomes on Azure, or :class:`UnsupportedTrigger` saying what to use instead."""
    from portafunc.targets import NativeTrigger

    trig = spec.trigger
    if isinstance(trig, HttpTrigger):
        from .route_order import overtaken_by

        overtaken = overtaken_by(spec)
        if overtaken is not None:
            from portafunc.docs_ui import DOCS_FUNCTION, FILES_FUNCTION

            other, why = overtaken
            fixed = {DOCS_FUNCTION, FILES_FUNCTION}  # registered by App(docs_route=...): not renamable
            if why == "case":
                reason = (f"its route and that of {other.name!r} ({other.trigger.describe()}) differ only in the "
                          "case of a literal segment: the app matches literal segments as written, the Functions "
                          f"host ignores their case and would hand the paths of both to {spec.name!r}, whose name "
                          "sorts first")
                instead = "the same case in the literal segments of both routes, or routes that do not overlap"
            else:
                reason = (f"its route overlaps that of {other.name!r} ({other.trigger.describe()}), which "
                          + ("is more specific" if why == "more specific" else "is as specific and registered first")
                          + ": the app serves the shared paths with it, as API Gateway does, but the Functions host "
                          "tries routes in function-name order (ignoring case) and would hand them to "
                          f"{spec.name!r}")
                if other.name in fixed:
                    instead = (f"a name for {spec.name!r} that sorts after {other.name!r}, which "
                               f"App(docs_route=...) names itself (e.g. name='z_{spec.name}'), or a docs_route that "
                               f"{trig.route.template} does not overlap")
                elif spec.name in fixed:
                    instead = (f"a name for {other.name!r} that sorts before {spec.name!r}, which "
                               f"App(docs_route=...) names itself (e.g. name='a_{other.name}'), or a docs_route that "
                               f"{other.trigger.route.template} does not overlap")  # type: ignore[union-attr]
                else:
                    instead = (f"names that sort the function the app prefers first (e.g. name='a_{other.name}' on "
                               f"{other.name!r}), or routes that do not overlap")
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure", reason, instead)
        auth = trig.auth if trig.auth in ("anonymous", "function") else \
            "anonymous at the host, bearer JWT verified by the function"
        return NativeTrigger("HTTP trigger", f"{','.join(http_methods(spec))} "
                             f"/{route_template(trig.route)}, auth {auth}")
    if isinstance(trig, QueueTrigger):
        if trig.ordered:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     "Azure Storage Queues do not keep order and the queue trigger runs messages "
                                     "in parallel", "an unordered queue (ordered=False), or a topic with an "
                                     "idempotent handler")
        if trig.batch_size > 32:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     f"the Storage Queue trigger fetches at most 32 messages at a time "
                                     f"(host.json queues.batchSize), not {trig.batch_size}", "batch_size=32 or less")
        queue = queue_name(trig.queue)
        poison = poison_queue_name(queue)
        if len(poison) > QUEUE_NAME_MAX:  # the template could not create it, nor the host move messages to it
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     f"its poison queue {poison} is {len(poison)} characters, over Storage's "
                                     f"{QUEUE_NAME_MAX} for a queue name",
                                     f"a queue name of at most {QUEUE_NAME_MAX - len(poison_queue_name(''))} "
                                     "characters as Azure names it (lower-cased, other characters as '-')")
        if trig.dead_letter:  # the runtime moves a message to it on the last attempt; the poison queue if it fails
            return NativeTrigger("Storage Queue trigger",
                                 f"queue {queue}, connection {STORAGE_CONNECTION}, dead letter {trig.dead_letter} "
                                 f"after {trig.max_attempts} attempts (poison queue {poison} if that move fails)")
        return NativeTrigger("Storage Queue trigger",
                             f"queue {queue}, connection {STORAGE_CONNECTION}, poison queue {poison} after "
                             f"{trig.max_attempts} attempts")
    if isinstance(trig, TopicTrigger):
        return NativeTrigger("Event Grid trigger", f"subscription to topic {trig.topic} (Event Grid or "
                             f"CloudEvents schema), max {trig.max_attempts} delivery attempts")
    if isinstance(trig, ScheduleTrigger):
        return NativeTrigger("Timer trigger", f"NCRONTAB {trig.schedule.written(schedule_dialect())} (UTC)")
    if isinstance(trig, StorageTrigger):
        from .codecs.storage import KIND_TO_TYPE

        bad = [e for e in trig.events if e not in KIND_TO_TYPE]
        if bad:
            raise UnsupportedTrigger(spec.name, trig.describe(), "azure",
                                     f"Blob Storage publishes no Event Grid event for {', '.join(bad)}",
                                     "events created, deleted or archived")
        types = ", ".join(KIND_TO_TYPE[e] for e in trig.events)
        flt = f"subject begins with /blobServices/default/containers/{trig.bucket}/blobs/{trig.prefix}"
        if trig.suffix:
            flt += f", ends with {trig.suffix}"
        return NativeTrigger("Event Grid trigger", f"Blob Storage events {types}; {flt}")
    raise UnsupportedTrigger(spec.name, str(trig), "azure", "unknown trigger", "http, topic, queue, schedule, storage")


# -- what the core asks the target for ---------------------------------------------------------------------------

def to_ncrontab(cron: str) -> str:
    """Azure's NCRONTAB: ``second minute hour day month day-of-week``; the neutral cron fires at second 0."""
    return f"0 {cron}"


def schedule_dialect() -> CronDialect:
    """Azure's NCRONTAB dialect, built on first use: packaging and ``inspect`` ask for it, the runtime never does."""
    dialect = globals().get("SCHEDULE_DIALECT")
    if dialect is None:
        from portafunc.schedule import CronDialect

        dialect = globals()["SCHEDULE_DIALECT"] = CronDialect("NCRONTAB", to_ncrontab, seconds=True)
    return dialect


def __getattr__(name: str) -> object:
    """``triggers.SCHEDULE_DIALECT``, as every target's trigger table offers it, without building it at import."""
    if name == "SCHEDULE_DIALECT":
        return schedule_dialect()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BODY_LIMIT = 100 * 1024 * 1024  # the Functions host's HTTP request limit (docs/reliability.md gives the source)
RESERVED_ENV = (r"^FUNCTIONS_", r"^AzureWebJobs", r"^WEBSITE_")
# When Azure Functions stops supporting each Python version (its published schedule).
PYTHON_SUPPORT = {"3.10": "2026-10-31", "3.11": "2027-10-31", "3.12": "2028-10-31", "3.13": "2029-10-31",
                  "3.14": "2030-10-31"}


#: ``auth="function"`` as OpenAPI security schemes: the Functions host checks the key before the function.
FUNCTION_AUTH_SCHEMES = {
    "azure_function_key": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                           "description": "Azure: a function key (AuthLevel.FUNCTION)."},
    "azure_function_key_query": {"type": "apiKey", "in": "query", "name": "code",
                                 "description": "Azure: a function key in the query (AuthLevel.FUNCTION)."},
}
