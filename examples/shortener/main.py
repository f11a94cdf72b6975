"""A URL shortener: ``POST /links`` keeps a short code for a URL in a key-value table, ``GET /{code}`` redirects to
it, an unknown code is a 404 problem. A browser front end on another origin calls the API (CORS), and the OpenAPI
document is served with Swagger UI at ``/docs``.

The port of the classic serverless URL-shortener tutorial (API Gateway + Lambda + DynamoDB, an HTTP-triggered Azure
Function with Table storage, a Cloud Function with Firestore): one file, deployed unchanged to every cloud.
"""

from __future__ import annotations

import os
import secrets
from typing import Literal

import portafunc
from portafunc import App, Cors, HttpRequest, HttpResponse
from pydantic import BaseModel, Field, HttpUrl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from portafunc.data import KV

# The front end lives at FRONTEND_ORIGIN and calls the API from the browser.
FRONTEND = os.environ.get("FRONTEND_ORIGIN", "https://links.example")
CODE = r"^[A-Za-z0-9_-]{3,32}$"
RESERVED = {"docs", "links"}  # paths of the API itself: a link there could never be followed

app = App("shortener", cors=Cors(allow_origins=[FRONTEND], allow_headers=["Content-Type"]), docs_route="/docs")


class NewLink(BaseModel):
    url: HttpUrl
    code: str | None = Field(default=None, pattern=CODE, description="A code of your choice; generated if absent")


class Link(BaseModel):
    code: str
    url: str
    short_url: str


def links() -> KV:
    """Code → ``{"url": ...}`` (``PORTAFUNC_KV_LINKS``: DynamoDB, Azure Table, Firestore, or memory:// locally)."""
    return portafunc.kv("links")


def base_url(req: HttpRequest) -> str:
    """Where this API is reached: ``PUBLIC_URL`` when set (a domain of its own), else where the request came in."""
    configured = os.environ.get("PUBLIC_URL")
    return configured.rstrip("/") if configured else req.base_url


@app.http("POST", "/links", uses=[portafunc.writes(kv="links")], responses={409: "the code is taken"})
def create_link(req: HttpRequest, new: NewLink) -> tuple[Link, Literal[201]]:
    """Shorten a URL.

    Keeps the code (yours, or a random one) for the URL; a code already taken is a 409 problem."""
    from portafunc.data import ABSENT

    table = links()
    for _ in range(5):
        code = new.code or secrets.token_urlsafe(5)
        if code in RESERVED:
            raise portafunc.HttpError(409, f"the code {code!r} is taken")
        try:
            table.put(code, {"url": str(new.url)}, if_version=ABSENT)  # create only: never overwrite a link
        except portafunc.VersionConflict:
            if new.code:
                raise portafunc.HttpError(409, f"the code {code!r} is taken") from None
            continue
        return Link(code=code, url=str(new.url), short_url=f"{base_url(req)}/{code}"), 201
    raise RuntimeError("no free code after 5 tries")


@app.http("GET", "/{code}", uses=[portafunc.reads(kv="links")],
          responses={301: "a redirect to the link's URL", 404: "no such code"})
def redirect(code: str) -> HttpResponse:
    """Follow a short link: a redirect to its URL."""
    try:
        target = links().get(code)["url"]
    except portafunc.KeyNotFound:
        return HttpResponse.problem(404, "Not Found", f"no link {code!r}")
    return HttpResponse(301, {"Location": target})
