"""Routers: a part of an app defined in its own module, composed into the App with ``app.include_router``.

A :class:`Router` has every decorator of :class:`~portafunc.App` and checks each registration the same way when it
is made (bad names, conflicting routes, schedules a cloud cannot express); ``include_router`` then registers its
functions into the app, HTTP routes under the prefix, so the app refuses a name or route that clashes with its own.
"""

from __future__ import annotations

from .app import App, HttpTrigger
from .errors import RegistrationError
from .routing import compile_route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

    from .auth import JwtAuth
    from .cors import Cors


class Router(App):
    """A group of functions to include in an [`App`][portafunc.App], like a blueprint.

    It has the App's decorators (``http``, ``queue``, ``topic``, ``schedule``, ``storage``); its functions belong to
    no app until ``app.include_router(router, prefix=...)``. Include it once its module has registered everything.

    Args:
        cors: The [`Cors`][portafunc.Cors] policy of this router's HTTP functions that set none themselves (else
            the app's applies).
        auth: The ``auth`` of this router's HTTP functions that set none themselves (``"anonymous"``,
            ``"function"`` or a [`JwtAuth`][portafunc.JwtAuth]); ``None``: the including app's.
        tags: The OpenAPI tags of this router's HTTP functions (``app.openapi()``, Swagger UI's groups).

    Example:
        ```python
        orders = Router()

        @orders.http("GET", "/orders/{id}")
        def get_order(req: HttpRequest) -> dict: ...

        app = App("shop")
        app.include_router(orders, prefix="/v1")  # serves GET /v1/orders/{id}
        ```
    """

    def __init__(self, *, cors: Cors | None = None, auth: str | JwtAuth | None = None,
                 tags: Iterable[str] = ()) -> None:
        super().__init__("router", cors=cors)
        if auth is not None and auth != "anonymous" and auth != "function":  # noqa: PLR1714 - no import for these
            from .auth import check_auth

            check_auth(auth, "Router")
        self.auth = auth
        self.tags = (tags,) if isinstance(tags, str) else tuple(tags)

    def __repr__(self) -> str:
        return f"Router({len(self._functions)} functions)"


def include(app: App, router: Router, prefix: str, tags: tuple[str, ...] = ()) -> None:
    """Register ``router``'s functions into ``app``; HTTP routes get ``prefix`` (see ``App.include_router``)."""
    if not isinstance(router, Router):
        raise RegistrationError(f"include_router takes a portafunc.Router, not {type(router).__name__}")
    if router is app:
        raise RegistrationError("a router cannot include itself")
    if prefix:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise RegistrationError(f"router prefix {prefix!r} must start with '/' and not end with one")
        compile_route(prefix)  # the prefix alone must be a valid template (no empty segment, sane parameters)
    if router._exception_handlers:
        raise RegistrationError("exception handlers apply to the whole app: register them with "
                                "@app.exception_handler, not on a router")
    clashes = [name for name in router._functions if name in app._functions]
    if clashes:
        raise RegistrationError(f"app {app.name!r}: function(s) {', '.join(clashes)} of the router are registered "
                                "in the app already; pass name=... to one of them")
    for spec in router._functions.values():
        trigger = spec.trigger
        if isinstance(trigger, HttpTrigger):
            template = prefix + trigger.route.template if trigger.route.template != "/" or not prefix else prefix
            cors = trigger.cors if trigger.cors is not None else router.cors
            auth = trigger.auth if trigger.auth is not None else app.auth
            trigger = HttpTrigger(trigger.methods, compile_route(template), auth, cors,
                                  trigger.response_model, trigger.content_types, trigger.responses)
            if cors is not None:
                app._cors_used = True
        # uses: None when it declares none, so that including a router does not load the resource model
        app._register(trigger, spec.name, spec.idempotency_key, spec.uses or None)(spec.handler)
        included = app._functions[spec.name]
        included.routers = (router, *spec.routers)
        included.tags = tuple(dict.fromkeys((*tags, *router.tags, *spec.tags)))


__all__ = ["Router"]
