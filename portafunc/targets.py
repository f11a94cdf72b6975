"""Targets as plugins: each adapter registers a :class:`Target` under the ``portafunc.targets`` entry point group.

The core (CLI, packager, contract kit, ``inspect``, the local runner) talks to targets only through this interface,
the way pytest talks to plugins: it never names one, so a new target is a new distribution and nothing else, and a
deployed artifact carries only ``portafunc`` and its own adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .app import App, FunctionSpec
from .errors import EventDecodeError, InvalidHeader, TargetNotFound
from .events import Event, HttpRequest, HttpResponse, Message, ScheduleEvent, StorageEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .schedule import CronDialect


@dataclass(frozen=True)
class NativeTrigger:
    """What a neutral trigger becomes on one target, e.g. ``queue consumer (batch 10, partial failures)``."""

    service: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.service} ({self.detail})" if self.detail else self.service


@dataclass(frozen=True)
class NativeKind:
    """What a native event is on one target: ``what`` names it as the target knows it (``an SQS batch``), ``kinds``
    are the trigger kinds (http, queue, topic, storage, schedule) of the functions that receive it there."""

    what: str
    kinds: frozenset[str]

    def refusal(self, spec: FunctionSpec) -> EventDecodeError | None:
        """The error refusing this event to ``spec``'s function when its trigger kind does not receive it, else
        None."""
        return None if spec.kind in self.kinds else spec.wrong_event(self.what)


#: The trigger kinds that receive each neutral event, and what the event is called where a target names it no better.
EVENT_KINDS: dict[type[Event], tuple[frozenset[str], str]] = {
    HttpRequest: (frozenset({"http"}), "an HTTP request"),
    Message: (frozenset({"queue", "topic"}), "a message"),
    StorageEvent: (frozenset({"storage"}), "a storage event"),
    ScheduleEvent: (frozenset({"schedule"}), "a schedule event"),
}


def receivers(events: list[Event]) -> frozenset[str]:
    """The trigger kinds of the functions that receive at least one of the neutral ``events``."""
    kinds: frozenset[str] = frozenset()
    for event in events:
        for cls, (receiving, _) in EVENT_KINDS.items():
            if isinstance(event, cls):
                kinds |= receiving
    return kinds


@dataclass
class Exchange:
    """One drive of an adapter's real entry point: the native event in, the native answer out, decoded."""

    target: str
    native_event: Any
    native_response: Any
    response: HttpResponse | None = None  # HTTP: the native response decoded back to neutral
    ids: list[str] = field(default_factory=list)  # messages: ids in delivery order
    failed_ids: list[str] = field(default_factory=list)  # messages the cloud would redeliver / dead-letter


@dataclass
class PackageRequest:
    app_ref: str  # "module:attr" importable from project_dir
    project_dir: Path
    out_dir: Path
    python: str = "3.12"
    arch: str = "x86_64"
    requirements: list[str] = field(default_factory=list)  # the user's own requirements (from requirements.txt)
    progress: Any = None  # callable(str) for progress lines
    app: Any = None  # the loaded App, set by the frame so a target does not import the user's module again
    functions: list[tuple[str, str]] | None = None  # (function, native trigger) rows from the frame's trigger check
    stage: str | None = None  # --stage: which [stages.NAME] of the configuration file applies
    deployment: Any = None  # the app's resources.Deployment with the configuration applied, set by the frame
    pip_options: list[str] = field(default_factory=list)  # honoured option lines of requirements.txt (-c, indexes)

    def resources(self) -> Any:
        """The deployment to build (``app.resources()`` with the project's configuration for ``stage``)."""
        if self.deployment is None:
            from .config import load_config

            app = self.app
            if app is None:
                from .loader import load_app

                app, self.project_dir, self.app_ref = load_app(self.app_ref, self.project_dir)
                self.app = app
            self.deployment = app.resources(load_config(self.project_dir, self.stage))
        return self.deployment

    def checked_app(self, target: Target) -> tuple[Any, list[tuple[str, str]]]:
        """The app and its trigger rows for ``target``: what the frame already loaded, else load and check now."""
        if self.app is None:
            from .loader import load_app

            self.app, self.project_dir, self.app_ref = load_app(self.app_ref, self.project_dir)
        if self.functions is None:
            from .packaging.build import trigger_check

            self.functions = trigger_check(self.app, target)
        return self.app, self.functions


@dataclass
class PackageResult:
    target: str
    artifact: Path
    manifest_files: list[Path]
    functions: list[tuple[str, str]]  # (function name, native trigger description)
    size: int
    file_count: int
    sha256: str
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # the target's deployment_warnings, shown after the build


class Target(ABC):
    """One target. Adapters subclass this; every method has a neutral input and a JSON-able native side.

    The abstract methods are what every target must do; the others have defaults a target overrides to tell the core
    what differs on it (schedule dialect, dead-letter kinds, body limit, reserved variables, Python support).
    """

    name: str = ""
    distribution: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "decode" in cls.__dict__:
            setattr(cls, "decode", _guard_decode(cls.__dict__["decode"]))  # noqa: B010 -- wraps the subclass's own

    # -- codecs ---------------------------------------------------------------------------------------------------
    #: The adapter's codecs package, when it has the usual three names: ``decode(native)``, ``encode(event,
    #: variant)`` and ``VARIANTS`` (neutral kind → the variants ``encode`` accepts). The three methods below call it,
    #: so an adapter wires its codecs by naming the package once; one whose codecs differ overrides the methods.
    codec_table: Any = None

    def decode(self, native: Any) -> list[Event]:
        """Any native event this target knows → neutral events; anything else → EventDecodeError."""
        return self._codecs().decode(native)  # type: ignore[no-any-return]

    def encode(self, event: Event, variant: str | None = None) -> Any:
        """A neutral event → a realistic native event (``variant`` picks one of :meth:`variants`)."""
        return self._codecs().encode(event, variant)

    def variants(self, kind: str) -> list[str]:
        """The native variants ``encode`` accepts for a neutral kind (http, message, storage, schedule)."""
        if self.codec_table is None:
            return [""]
        return list(self.codec_table.VARIANTS.get(kind, [""]))

    def _codecs(self) -> Any:
        if self.codec_table is None:
            raise NotImplementedError(f"target {self.name!r} names no codec_table and does not override this method")
        return self.codec_table

    def uncarried(self, kind: str, variant: str | None = None) -> frozenset[str]:
        """Neutral fields (JSON-form names) this native variant cannot carry, e.g. ``delivery_attempt`` on a push
        format without a delivery count.

        The round-trip property test compares everything else; say here what is lost rather than inventing it.
        ``headers.repeated`` means repeated headers arrive comma-joined in one value.
        """
        return frozenset()

    def native_kind(self, native: Any) -> NativeKind | None:
        """What ``native`` is here and which trigger kinds receive it, so that ``portafunc invoke`` refuses an event
        of another kind than the function's before anything runs; None when this target's ``decode`` cannot read it
        (the target's ``invoke`` then says why, in its own words).

        Default: the kinds of the neutral events ``decode`` finds in it, named generically. A target overrides it to
        name the event as the platform does, and where its functions receive an event in another kind's form (a
        message carrying a storage notification, an event pushed as an HTTP request)."""
        try:
            events = self.decode(native)
        except Exception:  # noqa: BLE001 - unreadable: the target's invoke reports it
            return None
        if not events:
            return None
        return NativeKind(next((name for cls, (_, name) in EVENT_KINDS.items() if isinstance(events[0], cls)),
                               "an event"), receivers(events))

    def new_event(self, trigger: str, data: Mapping[str, Any] | None = None) -> Any:
        """``portafunc events new``: a native event for a trigger name (``http``, ``queue``, ``http:VARIANT`` ...)."""
        from .events import event_from_dict

        kind, _, variant = trigger.partition(":")
        neutral = dict(data or {})
        neutral.setdefault("kind", {"queue": "message", "topic": "message"}.get(kind, kind))
        defaults: dict[str, dict[str, Any]] = {
            "http": {"method": "GET"},  # the path: "/", or what a raw_path given decodes to
            "message": {"id": "00000000-0000-4000-8000-000000000001", "data_base64": "e30="},
            "storage": {"bucket": "uploads", "key": "example.txt", "size": 0},
            "schedule": {"time": "2026-01-01T00:00:00Z"},
        }
        for key, value in (defaults.get(neutral["kind"], {}) if isinstance(neutral["kind"], str) else {}).items():
            neutral.setdefault(key, value)
        return self.encode(event_from_dict(neutral), variant or None)

    # -- triggers -------------------------------------------------------------------------------------------------
    @abstractmethod
    def native_trigger(self, spec: FunctionSpec) -> NativeTrigger:
        """What ``spec``'s trigger becomes here; UnsupportedTrigger (with what to use instead) when impossible."""

    # -- running --------------------------------------------------------------------------------------------------
    @abstractmethod
    def invoke(self, app: App, function: str, native: Any) -> Any:
        """Run ``function`` through this adapter's real entry point with a native event; the native answer."""

    @abstractmethod
    def driver(self) -> Driver:
        """The contract-test driver for this target."""

    #: The adapter's trigger table module (``triggers.py``): the answers below read its constants
    #: (``SCHEDULE_DIALECT``, ``BODY_LIMIT``, ``RESERVED_ENV``, ``PYTHON_SUPPORT``, ``FUNCTION_AUTH_SCHEMES``) where it
    #: defines them, so an adapter states each fact once, as data.
    trigger_table: Any = None

    def schedule_dialect(self) -> CronDialect:
        """How this target writes a neutral schedule (its cron dialect); the core's evaluator proves that each
        dialect fires at the neutral instants. Default: the neutral 5-field cron, unchanged."""
        dialect = getattr(self.trigger_table, "SCHEDULE_DIALECT", None)
        if dialect is not None:
            return dialect  # type: ignore[no-any-return]
        from .schedule import UNIX_CRON

        return UNIX_CRON

    def http_body_limit(self) -> int | None:
        """The largest HTTP request body this target's front door lets through (bytes); None: no limit of its own.
        ``portafunc run --target`` applies it locally; without ``--target`` the smallest installed one applies."""
        return getattr(self.trigger_table, "BODY_LIMIT", None)

    def reserved_env(self) -> tuple[str, ...]:
        """Regular expressions of environment variable names the platform owns (the configuration file may not
        set them), e.g. ``r"^PLATFORM_"``."""
        return tuple(getattr(self.trigger_table, "RESERVED_ENV", ()))

    def python_support(self) -> Mapping[str, str]:
        """Python version → the date (ISO) this target's runtime for it ends support; versions it lacks are
        absent. Empty: every version portafunc supports runs here, with no announced end."""
        return getattr(self.trigger_table, "PYTHON_SUPPORT", None) or {}

    def function_auth_schemes(self) -> Mapping[str, Mapping[str, Any]]:
        """What ``auth="function"`` is on this target, as OpenAPI security schemes by name (the platform checks it
        before the function runs). Empty: the target has no platform-checked caller identity."""
        return getattr(self.trigger_table, "FUNCTION_AUTH_SCHEMES", None) or {}

    # -- packaging ------------------------------------------------------------------------------------------------
    def package(self, request: PackageRequest) -> PackageResult:
        raise NotImplementedError(f"target {self.name} cannot package yet")


class Driver(ABC):
    """Drives a target's real entry point from neutral inputs (the contract kit's transport, like httpx's)."""

    target: str = ""

    @abstractmethod
    def http(self, app: App, request: HttpRequest) -> Exchange:
        """Encode ``request`` natively, run the HTTP entry point, decode the native response."""

    @abstractmethod
    def messages(self, app: App, function: str, messages: list[Message[Any]]) -> Exchange:
        """Deliver messages to a queue or topic function the way this cloud does (batch or one by one)."""

    @abstractmethod
    def event(self, app: App, function: str, event: StorageEvent | ScheduleEvent) -> Exchange:
        """Deliver a storage or schedule event; ``failed_ids`` holds its id when the cloud would retry it."""


def _guard_decode(decode: Any) -> Any:
    """Keep the decode contract for pathological input: a lone surrogate (not encodable as UTF-8), nesting too deep
    to walk or a header value that could split a response is a malformed event — an EventDecodeError — not a
    UnicodeError, RecursionError or InvalidHeader escaping to the caller."""
    import functools

    @functools.wraps(decode)
    def guarded(self: Target, native: Any) -> Any:
        try:
            return decode(self, native)
        except (UnicodeError, RecursionError) as exc:
            from .errors import EventDecodeError

            raise EventDecodeError(f"native event cannot be decoded: {type(exc).__name__}",
                                   expected="JSON of valid Unicode text, nested less than a few hundred levels") \
                from None
        except InvalidHeader as exc:  # a header value with CR, LF or NUL: no front end delivers one
            from .errors import EventDecodeError

            raise EventDecodeError(f"native event has an invalid header: {exc}",
                                   expected="header names that are tokens, values without CR, LF or NUL") from None

    return guarded


_cache: dict[str, Target] = {}


def available() -> dict[str, str]:
    """Installed targets: name → ``module:attr`` of their Target."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="portafunc.targets")}


def get_target(name: str) -> Target:
    """Load an installed target by name; an unknown one is a TargetNotFound listing the installed ones."""
    if name in _cache:
        return _cache[name]
    from importlib.metadata import entry_points

    for ep in entry_points(group="portafunc.targets"):
        if ep.name == name:
            try:
                loaded = ep.load()
            except ImportError as exc:
                raise TargetNotFound(f"target {name!r} is installed but failed to import ({ep.value}): {exc}") \
                    from exc
            target: Target = loaded() if isinstance(loaded, type) else loaded
            _cache[name] = target
            return target
    raise TargetNotFound(f"target {name!r} is not installed; installed targets: "
                         f"{', '.join(sorted(available())) or 'none'} (each target is its own distribution, "
                         f"portafunc-<target>)")


def distributions() -> dict[str, str]:
    """Installed targets: name → the distribution that registered it (from its entry point metadata)."""
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group="portafunc.targets"):
        dist = getattr(ep, "dist", None)
        found[ep.name] = dist.metadata["Name"] if dist is not None else "?"
    return found


Target.decode = _guard_decode(Target.decode)  # type: ignore[method-assign]  # subclasses: __init_subclass__
