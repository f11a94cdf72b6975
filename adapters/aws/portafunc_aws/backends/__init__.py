"""``sns://`` topics and ``sqs://`` queues (entry point group ``portafunc.backends``).

URL forms (see docs/aws.md):

* ``sns://arn:aws:sns:REGION:ACCOUNT:NAME`` — a topic by ARN (``.fifo`` names are FIFO topics).
* ``sqs://arn:aws:sqs:REGION:ACCOUNT:NAME`` or ``sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` — a queue by ARN or by
  its queue URL without ``https://``.

Endpoints are boto3's own business: ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_SNS`` / ``AWS_ENDPOINT_URL_SQS`` point
the clients at a stand-in such as moto or LocalStack. boto3 is imported when a backend is first used, never before.
"""

from __future__ import annotations

from typing import Any

from portafunc.errors import BindingError
from portafunc.plugins import binds


def sns_backend(kind: str, url: str, name: str) -> Any:
    if kind != "topic":
        raise BindingError(f"{name!r} is bound as a queue to {url!r}, but sns:// is a topic; bind queues to sqs://")
    from .sns import SnsTopic

    return SnsTopic(url, name)


binds(sns_backend, "topic")


def sqs_backend(kind: str, url: str, name: str) -> Any:
    if kind != "queue":
        raise BindingError(f"{name!r} is bound as a topic to {url!r}, but sqs:// is a queue; bind topics to sns://")
    from .sqs import SqsQueue

    return SqsQueue(url, name)


binds(sqs_backend, "queue")
