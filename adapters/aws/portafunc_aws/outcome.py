"""The one outcome → native mapping on AWS: what each trigger's Lambda invocation answers.

* HTTP (every variant): the Lambda proxy response of the request's variant (:func:`encode_response`).
* SQS batches (queues, topics delivered SNS → SQS, S3 → SQS): ``{"batchItemFailures": [...]}`` naming only the
  messages to redeliver (:func:`batch_answer`).
* Asynchronous invocations (SNS direct, S3 direct, EventBridge): nothing on success; :class:`RetryRequested` raised to
  Lambda on failure, so its async retry and on-failure destination take over (:func:`raise_for_retry`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from portafunc.invoke import MessageResult

from portafunc.errors import PortafuncError
from portafunc.events import HttpResponse

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
