"""Cross-origin resource sharing, answered by the function itself so every cloud and ``portafunc run`` agree.

The header sets are those of the Fetch standard's CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol):

* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) gets 204 with
  ``Access-Control-Allow-Origin``, ``-Allow-Methods``, ``-Allow-Headers`` (the requested headers that are allowed),
  ``-Allow-Credentials: true`` when credentials are allowed and ``-Max-Age`` when set; an origin, method or header
  the policy does not allow gets 403 and no ``Access-Control-*`` header, so the browser refuses the request;
* an actual response carries ``Access-Control-Allow-Origin`` (and ``-Allow-Credentials``, ``-Expose-Headers``) only
  when the request's ``Origin`` is allowed; ``Vary: Origin`` whenever the answer depends on the origin.

``*`` is never sent together with ``Access-Control-Allow-Credentials`` (the standard makes the browser refuse that):
``Cors(allow_origins=["*"], allow_credentials=True)`` is refused, and with credentials a ``*`` in ``allow_methods`` /
``allow_headers`` is answered with the requested method and headers rather than a literal ``*``.
"""

from __future__ import annotations

from .errors import RegistrationError
from .events import Headers, HttpResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

    from .app import App, FunctionSpec
    from .events import HttpRequest

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _names(values: Iterable[str] | None, what: str, lower: bool) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise RegistrationError(f"Cors {what} must be a list of strings, not the string {values!r}")
    out = []
    for value in values:
        if not isinstance(value, str) or not value or any(c in value for c in " ,\r\n"):
            raise RegistrationError(f"Cors {what}: {value!r} is not a single name")
        out.append(value.lower() if lower else value)
    return tuple(dict.fromkeys(out))


class Cors:
    """Which browser origins may call an HTTP function, and with which methods and headers.

    Args:
        allow_origins: Exact origins (``"https://shop.example"``: scheme, host and port, no path) or ``["*"]``
            for any origin.
        allow_methods: Methods a preflight may ask for; ``None``: every method the route serves; ``["*"]``: any.
        allow_headers: Request headers a preflight may ask for (case-insensitive); ``None``: only the CORS-safelisted
            ones the browser sends without asking; ``["*"]``: any.
        expose_headers: Response headers the page's script may read besides the safelisted ones.
        allow_credentials: Let the browser send cookies and HTTP authentication, and read the answer. Needs explicit
            origins: ``["*"]`` with credentials is refused, as the Fetch standard forbids it.
        max_age: Seconds the browser may cache a preflight answer; ``None``: the browser's default (5 s).

    Raises:
        RegistrationError: No origin, an origin that is not ``scheme://host[:port]``, ``"*"`` with credentials, or a
            negative ``max_age``.
    """

    __slots__ = ("allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age",
                 "any_origin", "_origins")

    def __init__(self, allow_origins: Iterable[str], allow_methods: Iterable[str] | None = None,
                 allow_headers: Iterable[str] | None = None, expose_headers: Iterable[str] | None = None,
                 allow_credentials: bool = False, max_age: int | None = None) -> None:
        origins = _names(allow_origins, "allow_origins", lower=False) or ()
        if not origins:
            raise RegistrationError("Cors needs at least one origin in allow_origins (or ['*'])")
        for origin in origins:
            if origin != "*" and ("://" not in origin or origin.endswith("/") or origin.count("/") != 2):
                raise RegistrationError(f"Cors origin {origin!r} must be scheme://host[:port], without a path")
        if "*" in origins and allow_credentials:
            raise RegistrationError("Cors: allow_origins=['*'] with allow_credentials=True is refused; browsers "
                                    "reject '*' with credentials (Fetch standard): list the origins")
        methods = _names(allow_methods, "allow_methods", lower=False)
        if methods is not None:
            methods = tuple(m.upper() for m in methods)
            bad = [m for m in methods if m != "*" and m not in _METHODS]
            if bad:
                raise RegistrationError(f"Cors allow_methods: unknown method(s) {bad}")
        if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
            raise RegistrationError(f"Cors max_age {max_age!r} must be a number of seconds >= 0")
        self.allow_origins = origins
        self.allow_methods = methods
        self.allow_headers = _names(allow_headers, "allow_headers", lower=True)
        self.expose_headers = _names(expose_headers, "expose_headers", lower=False) or ()
        self.allow_credentials = bool(allow_credentials)
        self.max_age = max_age
        self.any_origin = "*" in origins
        self._origins = frozenset(o.lower() for o in origins)

    def _key(self) -> tuple[object, ...]:
        return (self.allow_origins, self.allow_methods, self.allow_headers, self.expose_headers,
                self.allow_credentials, self.max_age)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cors) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Cors(allow_origins={list(self.allow_origins)!r}, allow_methods={self.allow_methods!r}, "
                f"allow_headers={self.allow_headers!r}, expose_headers={list(self.expose_headers)!r}, "
                f"allow_credentials={self.allow_credentials!r}, max_age={self.max_age!r})")

    def allows_origin(self, origin: str) -> bool:
        return self.any_origin or origin.lower() in self._origins

    def _allow_origin_value(self, origin: str) -> str:
        return "*" if self.any_origin else origin

    # -- answers ------------------------------------------------------------------------------------------------
    def preflight(self, req: HttpRequest, served: Iterable[str]) -> HttpResponse:
        """The answer to a preflight for a route serving the methods ``served``."""
        origin = req.headers.get("origin") or ""
        method = (req.headers.get("access-control-request-method") or "").strip()
        requested = [h.strip().lower() for h in (req.headers.get("access-control-request-headers") or "").split(",")
                     if h.strip()]
        served_methods = set(served)
        if "GET" in served_methods:
            served_methods.add("HEAD")
        allowed_methods = served_methods if self.allow_methods is None or "*" in self.allow_methods \
            else served_methods & set(self.allow_methods)
        if not self.allows_origin(origin):
            return self._refuse(f"origin {origin!r} is not allowed")
        if method not in allowed_methods:
            return self._refuse(f"method {method!r} is not allowed; allowed: {', '.join(sorted(allowed_methods))}")
        headers_allowed = self.allow_headers or ()
        if "*" not in headers_allowed:
            refused = [h for h in requested if h not in headers_allowed]
            if refused:
                return self._refuse(f"request header(s) {', '.join(refused)} not allowed")
        resp = HttpResponse(status=204, headers=Headers())
        h = resp.headers
        h.add("Access-Control-Allow-Origin", self._allow_origin_value(origin))
        if self.allow_credentials:
            h.add("Access-Control-Allow-Credentials", "true")
        if self.allow_methods is not None and "*" in self.allow_methods and not self.allow_credentials:
            h.add("Access-Control-Allow-Methods", "*")
        else:
            h.add("Access-Control-Allow-Methods", ", ".join(sorted(allowed_methods)))
        if requested:
            # The requested names themselves: a literal "*" does not cover Authorization, nor anything with
            # credentials (Fetch standard), while the list does.
            h.add("Access-Control-Allow-Headers", ", ".join(dict.fromkeys(requested)))
        if self.max_age is not None:
            h.add("Access-Control-Max-Age", str(self.max_age))
        h.add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        return resp

    def _refuse(self, why: str) -> HttpResponse:
        resp = HttpResponse.problem(403, "CORS request refused", why)
        resp.headers.add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        return resp

    def decorate(self, origin: str | None, resp: HttpResponse) -> None:
        """Add the actual-response headers for a request from ``origin`` (``None``: no ``Origin`` header)."""
        h = resp.headers
        if not self.any_origin:
            _add_vary(h, "Origin")
        if origin is None or not self.allows_origin(origin):
            return
        h.set("Access-Control-Allow-Origin", self._allow_origin_value(origin))
        if self.allow_credentials:
            h.set("Access-Control-Allow-Credentials", "true")
        if self.expose_headers:
            h.set("Access-Control-Expose-Headers", ", ".join(self.expose_headers))


def _add_vary(headers: Headers, name: str) -> None:
    present = [v.strip().lower() for value in headers.get_all("vary") for v in value.split(",")]
    if name.lower() not in present and "*" not in present:
        headers.add("Vary", name)


def policy(app: App, spec: FunctionSpec | None) -> Cors | None:
    """The policy of ``spec`` (its own ``cors=``, else the app's); the app's when no function serves the request."""
    if spec is not None:
        own: Cors | None = getattr(spec.trigger, "cors", None)
        if own is not None:
            return own
    return app.cors


def is_preflight(req: HttpRequest) -> bool:
    return req.method == "OPTIONS" and "origin" in req.headers and "access-control-request-method" in req.headers


def preflight_target(app: App, req: HttpRequest, function: str | None) -> tuple[Cors, list[str]] | None:
    """The policy and served methods a preflight for ``req`` is answered with, or ``None`` (no CORS there: the
    request is routed like any other ``OPTIONS``)."""
    from .invoke import match_request
    from .routing import slash_escaped

    method = (req.headers.get("access-control-request-method") or "").strip().upper()
    # Routed as the request itself is: an escaped "/" in its raw path stays inside its segment.
    spec, _, matched = match_request(app, req, method=method)
    served = list(matched)
    path = slash_escaped(req._raw_path) or req.path
    if spec is None and function is not None:
        own = app.function(function)
        if own.kind == "http" and own.trigger.route.match(path) is not None:  # type: ignore[union-attr]
            spec, served = own, list(own.trigger.methods)  # type: ignore[union-attr]
    if spec is None:
        if not served:
            return None
        found = policy(app, None)
        return None if found is None else (found, served)
    found = policy(app, spec)
    if found is None:
        return None
    # The methods of this path under the same policy: a route with a policy of its own is not advertised here.
    same = [m for f in app.http_functions() if policy(app, f) == found
            and f.trigger.route.match(path) is not None for m in f.trigger.methods]  # type: ignore[union-attr]
    return found, same or served


__all__ = ["Cors"]


def decorate_refusal(app: App, method: str, path: str, origin: str | None, resp: HttpResponse,
                     raw_path: str | None = None) -> HttpResponse:
    """``resp``, a refusal made before the request reached the pipeline (a body over the limit, refused before a byte
    of it is read), with the CORS headers of the policy covering ``method path``, as every answer from the pipeline
    carries them: without them a browser cannot read why it was refused. ``raw_path``: the path as the request
    line sent it, routed as the pipeline routes it (:func:`portafunc.invoke.match_request`: an escaped "/" stays
    inside its segment), so the refusal carries the policy of the route the request would have reached."""
    if not app._cors_used:
        return resp
    from .routing import slash_escaped

    spec = app._match(method.upper(), slash_escaped(raw_path) or path, None)[0]
    found = policy(app, spec)
    if found is not None:
        found.decorate(origin, resp)
    return resp
