"""Resources the configuration names as already existing on Google Cloud (``[existing.KIND.NAME] gcp = "…"``).

``deploy.sh`` binds each one to its URL, grants the runtime account on it and attaches its subscriptions and
triggers to it, but creates nothing of it and never renames it for a stage. The URL is checked at packaging in the
form the runtime's backend reads (a typo would otherwise surface only at the first call in the cloud):

* topic: ``pubsub://projects/P/topics/T``;
* queue: its topic ``pubsub://projects/P/topics/T`` (a consumer of this app gets its push subscription on it), or a
  subscription with its topic ``pubsub://projects/P/subscriptions/S?topic=projects/P/topics/T`` (bound as it is);
* bucket: ``gs://BUCKET``; kv and idempotency: ``firestore://PROJECT/COLLECTION``.
"""

from __future__ import annotations

from portafunc.app import App, FunctionSpec, QueueTrigger, StorageTrigger, TopicTrigger
from portafunc.errors import BindingError
from portafunc.resources import Deployment
from portafunc.targets import NativeTrigger

FORMS = {"topic": "pubsub://projects/PROJECT/topics/TOPIC",
         "queue": "pubsub://projects/PROJECT/topics/TOPIC (the queue's topic) or "
                  "pubsub://projects/PROJECT/subscriptions/SUBSCRIPTION?topic=projects/PROJECT/topics/TOPIC",
         "bucket": "gs://BUCKET", "kv": "firestore://PROJECT/COLLECTION",
         "idempotency": "firestore://PROJECT/COLLECTION"}
TOPIC_OPTIONS = {"timeout", "max_messages", "max_bytes", "max_latency"}  # what the Pub/Sub topic backend reads


def existing_url(deployment: Deployment, kind: str, name: str) -> str | None:
    """The binding URL the configuration gives for an existing GCP resource (None: the script creates it)."""
    return deployment.existing(kind, name).get("gcp")


def _pubsub(url: str, expect: str, allowed: set[str]) -> tuple[str, dict[str, str]]:
    from ..backends.pubsub import _parse  # the runtime's own parser: what it refuses never deploys

    path, options = _parse(url, expect)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BindingError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    return path, options


def topic_path(url: str) -> str:
    """The Pub/Sub topic (``projects/P/topics/T``) an existing topic's or queue's URL names."""
    if "/subscriptions/" in url:
        path, options = _pubsub(url, "subscriptions", {"topic", "timeout"})
        topic = options.get("topic", "")
        return topic if "/" in topic else f"projects/{path.split('/')[1]}/topics/{topic}"
    return _pubsub(url, "topics", TOPIC_OPTIONS)[0]


def bucket_name(url: str) -> str:
    """The bucket ``gs://BUCKET`` names (the rule of the Cloud Storage backend)."""
    if not url.startswith("gs://"):
        raise BindingError("not a gs:// URL")
    bucket = url[5:].partition("?")[0].strip("/")
    if not 3 <= len(bucket) <= 222 or "/" in bucket:
        raise BindingError("a bucket name has 3 to 222 characters and no '/'")
    return bucket


def _firestore(url: str) -> None:
    from portafunc.data.calls import split_options

    if not url.startswith("firestore://"):
        raise BindingError("not a firestore:// URL")
    rest, _ = split_options(url, {"database"}, "the URL")
    project, _, collection = rest.strip("/").partition("/")
    if not project or not collection or "/" in collection:
        raise BindingError("a project and a collection id (no '/')")


def _check(kind: str, url: str, consumer: str | None) -> None:
    if kind == "topic":
        _pubsub(url, "topics", TOPIC_OPTIONS)
    elif kind == "queue":
        if "/subscriptions/" in url:
            if not _pubsub(url, "subscriptions", {"topic", "timeout"})[1].get("topic"):
                raise BindingError("a subscription URL names its topic (?topic=projects/P/topics/T): sends and "
                                   "the grants go to the topic")
        else:
            _pubsub(url, "topics", {"timeout"})
            if consumer is None:
                raise BindingError("no function of this app consumes the queue, so no subscription of its own "
                                   "receives from the topic: name the subscription to bind")
    elif kind == "bucket":
        bucket_name(url)
    elif kind in ("kv", "idempotency"):
        _firestore(url)


def check(deployment: Deployment) -> list[str]:
    """The ``[existing.*] gcp`` URLs the deploy script cannot use: the wrong scheme or form for the kind."""
    problems = []
    for res in deployment.resources.values():
        url = existing_url(deployment, res.kind, res.name)
        if url is None:
            continue
        try:
            _check(res.kind, url, res.options.get("consumer"))
        except (BindingError, ValueError) as exc:
            problems.append(f"[existing.{res.kind}.{res.name}] gcp = {url!r}: expected "
                            f"{FORMS.get(res.kind, 'a binding URL')} ({exc})")
    return problems


def deployed_trigger(spec: FunctionSpec, deployment: Deployment) -> NativeTrigger | None:
    """What a consumer of an existing topic, queue or bucket becomes (None: what ``check_trigger`` says)."""
    from ..triggers import check_trigger

    native = check_trigger(spec)  # refuses what GCP cannot do, whatever exists
    trig = spec.trigger
    kind = "topic" if isinstance(trig, TopicTrigger) else "queue" if isinstance(trig, QueueTrigger) else \
        "bucket" if isinstance(trig, StorageTrigger) else None
    url = existing_url(deployment, kind, getattr(trig, kind)) if kind else None
    if url is None:
        return None
    try:
        where = bucket_name(url) if kind == "bucket" else topic_path(url)
    except (BindingError, ValueError):
        return None  # check_deployment reports it
    if isinstance(trig, TopicTrigger):
        ack = min(600, max(10, deployment.functions[spec.name].settings.timeout))
        return NativeTrigger("Pub/Sub push subscription", f"existing topic {where}, ack deadline {ack}s, "
                             f"dead-letter after {trig.max_attempts} attempts, one message per request")
    return NativeTrigger(native.service, f"existing {kind} {where}: " + native.detail)


def warnings(app: App, deployment: Deployment) -> list[str]:
    """What ``deploy.sh`` does to resources it does not own: the grants and attachments the operator runs it with
    must be allowed there, else the command fails and the script stops."""
    out = []
    for res in deployment.resources.values():
        url = existing_url(deployment, res.kind, res.name)
        if url is None:
            continue
        if res.kind in ("topic", "queue", "bucket"):
            users = sorted({fn for fn, _ in deployment.users(res.kind, res.name)})
            line = (f"{res.kind} {res.name} already exists ({url}): deploy.sh creates nothing of it, binds "
                    f"{', '.join(users) or 'no function'} to it and grants the runtime account on it; the operator "
                    "needs the right to set its IAM policy (in its own project, which may be another)")
            consumers = [s.name for s in app if isinstance(s.trigger, (TopicTrigger, QueueTrigger))
                         and getattr(s.trigger, res.kind, None) == res.name]
            if consumers:
                line += (f"; {', '.join(consumers)} receive(s) through a push subscription of this project on its "
                         "topic, with a dead-letter topic of this project")
            if any(isinstance(s.trigger, StorageTrigger) and s.trigger.bucket == res.name for s in app):
                line += "; its Eventarc trigger is created in REGION, which must be the bucket's location"
            out.append(line)
        else:
            out.append(f"{res.kind} {res.name} already exists ({url}): deploy.sh sets no TTL policy on it and grants "
                       "roles/datastore.user in the deploying project only; when the collection is in another "
                       "project, grant the runtime account that role there")
    return out


__all__ = ["FORMS", "bucket_name", "check", "deployed_trigger", "existing_url", "topic_path", "warnings"]
