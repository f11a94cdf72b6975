"""The HTTP API's own configuration, so API Gateway refuses what the app refuses before a function is billed, and
does not fight the app over CORS.

* **Authorizers.** ``auth="function"`` is the ``AWS_IAM`` authorizer. A :class:`~portafunc.JwtAuth` route gets a JWT
  authorizer with the same issuer and audience (``IdentitySource: $request.header.Authorization``): a request without
  a valid token is answered 401 by API Gateway and never invokes the function, which still verifies every token it
  receives. API Gateway's JWT authorizer verifies RSA signatures only, so a JwtAuth that also accepts other
  algorithms (ES256, EdDSA) gets no native authorizer: the function alone checks it.
* **CORS.** With a ``CorsConfiguration`` API Gateway answers preflights itself and replaces the CORS headers of every
  response, its own 401s included. It is written when it says exactly what the app says: every HTTP function has the
  same policy (the app's or a router's). Else it is left out and the function answers preflights through the
  ``$default`` route, as on the other clouds (then an authorizer's 401 carries no CORS header).

A REST API (``AWS::Serverless::Api``) or a Function URL would differ: a REST API answers preflights only with an
``OPTIONS`` method per resource (SAM's ``Cors`` property generates mock integrations) and its JWT support is a
Cognito/Lambda authorizer; a Function URL has its own ``Cors`` block and only ``AWS_IAM`` or ``NONE`` auth. portafunc
deploys HTTP APIs only.
"""

from __future__ import annotations

from typing import Any

from portafunc.app import App, HttpTrigger
from portafunc.auth import JwtAuth
from portafunc.cors import Cors

#: What API Gateway's JWT authorizer verifies ("only RSA-based algorithms are supported").
NATIVE_JWT_ALGORITHMS = ("RS256", "RS384", "RS512")
IDENTITY_SOURCE = "$request.header.Authorization"


def authorizers(app: App) -> dict[JwtAuth, str]:
    """Each distinct JwtAuth of the app that API Gateway can enforce → its authorizer's name (``Jwt1``, ...), in
    registration order. JwtAuths with the same issuer, audience and algorithms share one."""
    names: dict[tuple[Any, ...], str] = {}
    out: dict[JwtAuth, str] = {}
    for auth in _auths(app):
        if not isinstance(auth, JwtAuth) or not set(auth.algorithms) <= set(NATIVE_JWT_ALGORITHMS):
            continue
        key = (auth.issuer, auth.audiences, auth.algorithms)
        out[auth] = names.setdefault(key, f"Jwt{len(names) + 1}")
    return out


def _auths(app: App) -> list[Any]:
    """The ``auth`` of each HTTP function, in registration order."""
    return [spec.trigger.auth for spec in app.http_functions() if isinstance(spec.trigger, HttpTrigger)]


def uniform_cors(app: App) -> Cors | None:
    """The one CORS policy every HTTP function of the app has, or None (none, or several)."""
    from portafunc.cors import policy

    policies = {policy(app, spec) for spec in app.http_functions()}
    if len(policies) != 1:
        return None
    return next(iter(policies))


def cors_configuration(app: App, cors: Cors) -> dict[str, Any]:
    """SAM's HttpApi ``CorsConfiguration`` for ``cors``: what API Gateway answers preflights with and adds to every
    response. ``allow_methods=None`` (the route's own methods) becomes every method the app serves."""
    methods = cors.allow_methods
    if methods is None:
        served: set[str] = set()
        for spec in app.http_functions():
            trig = spec.trigger
            assert isinstance(trig, HttpTrigger)
            served.update(trig.methods)
            if "GET" in trig.methods:
                served.add("HEAD")
        methods = tuple(sorted(served))
    config: dict[str, Any] = {"AllowOrigins": list(cors.allow_origins), "AllowMethods": list(methods)}
    if cors.allow_headers is not None:
        config["AllowHeaders"] = list(cors.allow_headers)
    if cors.expose_headers:
        config["ExposeHeaders"] = list(cors.expose_headers)
    if cors.allow_credentials:
        config["AllowCredentials"] = True
    if cors.max_age is not None:
        config["MaxAge"] = cors.max_age
    return config


def http_api_properties(app: App) -> dict[str, Any] | None:
    """The ``AWS::Serverless::HttpApi`` properties the app needs (authorizers, CORS), or None: SAM's implicit API."""
    props: dict[str, Any] = {}
    auth: dict[str, Any] = {}
    if "function" in _auths(app):
        auth["EnableIamAuthorizer"] = True
    jwt = {}
    for jwt_auth, name in authorizers(app).items():
        jwt[name] = {"IdentitySource": IDENTITY_SOURCE,
                     "JwtConfiguration": {"issuer": jwt_auth.issuer, "audience": list(jwt_auth.audiences)}}
    if jwt:
        auth["Authorizers"] = jwt
    if auth:
        props["Auth"] = auth
    cors = uniform_cors(app)
    if cors is not None:
        props["CorsConfiguration"] = cors_configuration(app, cors)
    return props or None


def route_auth(trig: HttpTrigger, names: dict[JwtAuth, str]) -> dict[str, Any] | None:
    """A route event's ``Auth``: the IAM or JWT authorizer of its ``auth``; None: open at the front door."""
    if trig.auth == "function":
        return {"Authorizer": "AWS_IAM"}
    if isinstance(trig.auth, JwtAuth) and trig.auth in names:
        return {"Authorizer": names[trig.auth]}
    return None


def jwt_problems(app: App) -> list[str]:
    """What API Gateway would refuse in a JwtAuth: an issuer that is not https (its authorizer fetches the keys)."""
    problems = []
    for spec in app.http_functions():
        auth = getattr(spec.trigger, "auth", None)
        if isinstance(auth, JwtAuth) and not auth.issuer.startswith("https://"):
            problems.append(f"{spec.name}: JwtAuth issuer {auth.issuer!r} is not https; API Gateway's JWT "
                            "authorizer and the deployed function need a public https issuer")
    return problems
