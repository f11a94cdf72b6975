"""The one outcome → native mapping on AWS: what each trigger's Lambda invocation answers.

* HTTP (every variant): the Lambda proxy response of the request's variant (:func:`encode_response`; for what a
  handler usually returns, :func:`direct_encoder` builds the same answer without an HttpResponse in between).
* SQS batches (queues, topics delivered SNS → SQS, S3 → SQS): ``{"batchItemFailures": [...]}`` naming only the
  messages to redeliver (:func:`batch_answer`).
* Asynchronous invocations (SNS direct, S3 direct, EventBridge): nothing on success; :class:`RetryRequested` raised to
  Lambda on failure, so its async retry and on-failure destination take over (:func:`raise_for_retry`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from portafunc.invoke import MessageResult

from portafunc.errors import PortafuncError
from portafunc.events import HttpResponse, json_text

from .codecs.fields import b64encode


class RetryRequested(PortafuncError):
    """Raised to Lambda so that it retries an asynchronous invocation (SNS, S3, EventBridge)."""

    def __init__(self, failures: list[MessageResult]) -> None:
        detail = "; ".join(f"{r.message_id}: {r.error}" for r in failures)
        super().__init__(f"{len(failures)} event(s) failed and must be retried: {detail}"[:2000])
        self.failures = failures


def batch_answer(failed_ids: list[str]) -> dict[str, Any]:
    """The SQS event source's partial-batch answer: redeliver exactly these messages (``[]``: all succeeded)."""
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed_ids] if failed_ids else []}


def raise_for_retry(failures: list[MessageResult]) -> None:
    """An asynchronous invocation's answer: None when every event succeeded, else :class:`RetryRequested`."""
    if failures:
        raise RetryRequested(failures)


def encode_response(resp: HttpResponse, variant: str) -> dict[str, Any]:
    """The Lambda proxy response for ``variant``; binary bodies base64-encoded with ``isBase64Encoded``."""
    items = resp.headers._items
    if len(items) == 1 and items[0] == _JSON_ITEM and resp.body.__class__ is bytes:
        try:
            text = resp.body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if variant == "apigw-v2" or variant == "function-url":  # _json_answer's first case, without its frame
                return {"statusCode": resp.status, "headers": {"content-type": _JSON}, "body": text,
                        "isBase64Encoded": False}
            return _json_answer(resp.status, text, variant)
    return _encode_any(resp, variant)


def _json_answer(status: int, text: str, variant: str) -> dict[str, Any]:
    """:func:`_encode_any` of a response whose one header is ``Content-Type: application/json`` and whose body is
    the UTF-8 ``text``: the usual JSON answer (a handler's dict, a response model, a problem), built directly."""
    if variant == "apigw-v2" or variant == "function-url":
        return {"statusCode": status, "headers": {"content-type": _JSON}, "body": text, "isBase64Encoded": False}
    if variant == "alb":
        return {"statusCode": status, "statusDescription": _status_line(status), "headers": {"content-type": _JSON},
                "body": text, "isBase64Encoded": False}
    if variant == "alb-multi":
        return {"statusCode": status, "statusDescription": _status_line(status),
                "multiValueHeaders": {"Content-Type": [_JSON]}, "body": text, "isBase64Encoded": False}
    return {"statusCode": status, "multiValueHeaders": {"Content-Type": [_JSON]}, "body": text,
            "isBase64Encoded": False}


json_answer = _json_answer  # the Lambda handler's encoding of the usual JSON response of a request read in one pass


def _encode_any(resp: HttpResponse, variant: str) -> dict[str, Any]:
    if resp.is_text:
        body, is_b64 = resp.body.decode("utf-8"), False
    else:
        body, is_b64 = b64encode(resp.body), True
    out: dict[str, Any] = {"statusCode": resp.status}
    if variant in ("apigw-v2", "function-url"):
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in resp.headers.items():
            if name.lower() == "set-cookie":
                cookies.append(value)
                continue
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        out["headers"] = headers
        if cookies:
            out["cookies"] = cookies
    elif variant == "alb":
        out["statusDescription"] = _status_line(resp.status)
        single: dict[str, str] = {}
        for name, value in resp.headers.items():
            key = name.lower()
            if key in single and key != "set-cookie":
                single[key] = f"{single[key]}, {value}"
            else:
                single[key] = value  # single-value mode can carry one Set-Cookie only: the last wins
        out["headers"] = single
    else:  # apigw-v1, alb-multi
        if variant == "alb-multi":
            out["statusDescription"] = _status_line(resp.status)
        multi: dict[str, list[str]] = {}
        for name, value in resp.headers.items():
            multi.setdefault(name, []).append(value)
        out["multiValueHeaders"] = multi
    out["body"] = body
    out["isBase64Encoded"] = is_b64
    return out


_JSON, _TEXT = "application/json", "text/plain; charset=utf-8"
_JSON_ITEM = ("Content-Type", _JSON)


def direct_encoder(variant: str) -> Callable[[Any], dict[str, Any] | None]:
    """``encode(value)``: what :func:`encode_response` gives for ``to_response(value)`` in ``variant``, built straight
    from a handler's usual results (a dict or list → JSON 200, a str → text 200, None → 204); None for any other
    value. It raises what building that HttpResponse raises (a non-finite number, a lone surrogate in text), so the
    pipeline answers such a result as it always does (``portafunc.invoke.handle_http_direct``)."""
    multi = variant in ("apigw-v1", "alb-multi")
    line = variant in ("alb", "alb-multi")

    def encode(value: Any) -> dict[str, Any] | None:
        kind = value.__class__
        if kind is dict or kind is list:
            body, ctype = json_text(value), _JSON
        elif kind is str:
            if not value.isascii():
                value.encode("utf-8")  # HttpResponse.text refuses lone surrogates (a 500)
            body, ctype = value, _TEXT
        elif value is None:
            out: dict[str, Any] = {"statusCode": 204}
            if line:
                out["statusDescription"] = "204 No Content"
            out["multiValueHeaders" if multi else "headers"] = {}
            out["body"] = ""
            out["isBase64Encoded"] = False
            return out
        else:
            return None
        if multi:
            if line:
                return {"statusCode": 200, "statusDescription": "200 OK", "multiValueHeaders": {"Content-Type": [ctype]},
                        "body": body, "isBase64Encoded": False}
            return {"statusCode": 200, "multiValueHeaders": {"Content-Type": [ctype]}, "body": body,
                    "isBase64Encoded": False}
        if line:
            return {"statusCode": 200, "statusDescription": "200 OK", "headers": {"content-type": ctype}, "body": body,
                    "isBase64Encoded": False}
        return {"statusCode": 200, "headers": {"content-type": ctype}, "body": body, "isBase64Encoded": False}

    return encode


DIRECT = {variant: direct_encoder(variant) for variant in ("apigw-v2", "function-url", "apigw-v1", "alb", "alb-multi")}
"""The direct encoder of each HTTP variant."""


_STATUS_LINES: dict[int, str] = {}


def _status_line(status: int) -> str:
    """``"200 OK"`` for ALB's statusDescription, built once per status code."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = _build_status_line(status)
    return line


def _build_status_line(status: int) -> str:
    try:
        return f"{status} {_phrase(status)}"
    except ValueError:
        return str(status)


def _phrase(status: int) -> str:
    from http import HTTPStatus  # only for ALB responses: kept off the import path

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
