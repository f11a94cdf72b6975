"""Resources the configuration names as already existing on Azure (``[existing.KIND.NAME] azure = URL``).

The template creates none of them and assigns no role on them: the function app's binding is the URL itself, and it
reaches the resource with the credential the URL names — ``?connection=VAR`` (a connection string of the storage
account) or, for an Event Grid topic, ``?key_env=VAR`` (an access key). The configuration file must set ``VAR``
(``secrets``, or ``env``): without it the backends would fall back to ``AzureWebJobsStorage``, the account the template
creates, and an app setting added by hand is dropped by the next deployment (ARM writes the whole list).

Refused at packaging (:func:`problems`), as nothing the template could write would work: a URL of the wrong form for
its kind, a credential no setting carries, and a trigger on the existing resource — the queue trigger reads a queue of
the app's own storage account (``AzureWebJobsStorage``) and moves poison messages there, and the template creates
Event Grid subscriptions only on the topics and the storage account it creates (an existing topic is named by its
endpoint, not by its resource id).
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from portafunc.errors import PortafuncError
from portafunc.resources import Deployment

SCHEME = {"queue": "azqueue", "topic": "eventgrid", "bucket": "azblob", "kv": "aztable", "idempotency": "aztable"}
FORM = {"queue": "azqueue://ACCOUNT/QUEUE?connection=VAR", "topic": "eventgrid://HOST/api/events?key_env=VAR",
        "bucket": "azblob://ACCOUNT/CONTAINER?connection=VAR", "kv": "aztable://ACCOUNT/TABLE?connection=VAR",
        "idempotency": "aztable://TABLE?connection=VAR"}
_QUEUE = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")
#: What a shared access signature in the connection string must allow, per kind and access (an account key allows
#: everything); each access's list includes the lesser one's.
SAS = {("queue", "send"): "add", ("bucket", "read"): "read, list",
       ("bucket", "write"): "read, list, write, create, delete", ("kv", "read"): "read",
       ("kv", "write"): "read, add, update, delete", ("idempotency", "read"): "read, add, update, delete",
       ("idempotency", "write"): "read, add, update, delete"}


class Existing(NamedTuple):
    """An existing resource as the template binds it: ``where`` is its storage account or topic host (None for an
    idempotency table, whose URL names none); ``credential`` the variable its URL reads the secret from."""

    kind: str
    name: str
    url: str
    where: str | None
    credential: str | None


def existing_url(deployment: Deployment, kind: str, name: str) -> str | None:
    """The binding URL the configuration gives for an existing Azure resource (``[existing.KIND.NAME] azure = …``)."""
    return deployment.existing(kind, name).get("azure")


def parse(kind: str, name: str, url: str) -> Existing:
    """The URL checked by the backend that binds it at run time; PortafuncError naming the expected form."""
    scheme = SCHEME.get(kind)
    if scheme is None:
        raise PortafuncError(f"existing {kind} {name!r}: Azure has no {kind} to bind to an existing resource")
    if urlsplit(url).scheme != scheme:
        raise PortafuncError(f"existing {kind} {name!r}: {url!r} is not a {scheme}:// URL; on Azure give "
                             f"{FORM[kind]}")
    options = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    try:
        where = _check(kind, name, url, options)
    except (PortafuncError, ValueError) as exc:
        raise PortafuncError(f"existing {kind} {name!r}: {exc} (on Azure give {FORM[kind]})") from exc
    return Existing(kind, name, url, where, options.get("key_env" if kind == "topic" else "connection"))


def _check(kind: str, name: str, url: str, options: dict[str, str]) -> str | None:
    """Where the resource is, once its backend accepted the URL."""
    if kind == "queue":
        from ..backends.storage_queue import parse_url

        account, queue, _ = parse_url(url)
        if not _QUEUE.fullmatch(queue):
            raise ValueError(f"{queue!r} is not a Storage queue name (3-63 lower-case letters, digits, single '-')")
        return account
    if kind == "topic":
        from ..backends.eventgrid_topic import backend

        backend("topic", url, name)
        if options.get("tls") in ("0", "false", "no"):
            raise ValueError(f"{url!r}: tls=0 is for local stand-ins; Event Grid takes https only")
        return urlsplit(url).netloc
    if kind == "idempotency":
        from ..backends.idempotency import store_factory

        store_factory(url)
        return None
    if kind == "bucket":
        from ..backends.blob_bucket import factory as container

        return container(kind, url, name).account
    from ..backends.table_kv import factory as table

    return table(kind, url, name).account


def of(deployment: Deployment) -> list[Existing]:
    """Every resource of the deployment that exists on Azure already; PortafuncError for a malformed URL."""
    return [parse(res.kind, res.name, url) for res in deployment.resources.values()
            if (url := existing_url(deployment, res.kind, res.name)) is not None]


def problems(deployment: Deployment) -> list[str]:
    """Why the template cannot bind these existing resources (empty: it can)."""
    out: list[str] = []
    settings = {key for fn in deployment.functions.values() for key in (*fn.settings.env, *fn.settings.secrets)}
    for res in deployment.resources.values():
        url = existing_url(deployment, res.kind, res.name)
        if url is None:
            continue
        try:
            found = parse(res.kind, res.name, url)
        except PortafuncError as exc:
            out.append(f"azure: {exc}")
            continue
        what = f"azure: existing {res.kind} {res.name!r} ({url})"
        option = "key_env" if res.kind == "topic" else "connection"
        secret = "an access key of the topic" if res.kind == "topic" else \
            f"a connection string of storage account {found.where or 'that holds the table'}"
        if found.credential is None:
            fallback = "read PORTAFUNC_EVENTGRID_KEY, which nothing sets" if res.kind == "topic" else \
                "use AzureWebJobsStorage, the storage account the template creates"
            out.append(f"{what}: name the variable holding {secret} (?{option}=VAR) and set VAR in the configuration "
                       f"file's secrets; without it the app would {fallback}")
        elif found.credential not in settings:
            out.append(f"{what}: {found.credential} is not set by the configuration file; add it to secrets (a Key "
                       f"Vault reference) holding {secret}: an app setting set by hand is removed by the next "
                       "deployment")
        opts = res.options
        if res.kind == "queue" and opts.get("consumer"):
            out.append(f"{what}: function {opts['consumer']!r} consumes it, but the Storage Queue trigger reads a "
                       "queue of the app's own storage account (AzureWebJobsStorage) and moves poison messages "
                       "there; drop the azure entry so the template creates the queue, or consume it from an app "
                       "deployed with that storage account")
        if res.kind == "topic" and opts.get("subscribers"):
            out.append(f"{what}: {', '.join(map(repr, opts['subscribers']))} subscribe to it, but the template "
                       "creates Event Grid subscriptions only on the topics it creates (the URL names the topic's "
                       "endpoint, not its resource id); drop the azure entry so the template creates the topic and "
                       "its subscriptions")
        if res.kind == "bucket" and opts.get("notifications"):
            out.append(f"{what}: {', '.join(map(repr, opts['notifications']))} trigger on its blob events, but the "
                       "template subscribes only to the events of the storage account it creates; drop the azure "
                       "entry so the template creates the container")
    return out


def warnings(deployment: Deployment) -> list[str]:
    """What the operator must grant on each existing resource: the template neither creates it nor assigns roles
    on it, and the app reaches it with the credential its URL names."""
    try:
        found = of(deployment)
    except PortafuncError:
        return []  # refused by problems()
    out = []
    for ex in found:
        accesses = sorted({a for fn in deployment.functions.values() for g in fn.grants
                           if g.kind == ex.kind and g.name == ex.name for a in g.access})
        if ex.kind == "topic":
            needs = f"an access key of the Event Grid topic {ex.where}"
        else:
            sas = max((SAS[(ex.kind, a)] for a in accesses if (ex.kind, a) in SAS), key=len, default="")
            needs = f"a connection string of storage account {ex.where or 'that holds the table'}" + \
                (f" (with a SAS: {sas} permissions)" if sas else "")
        out.append(f"{ex.kind} {ex.name} already exists at {ex.url}: the template neither creates it nor assigns "
                   f"any role on it; {ex.credential or 'its credential'} must hold {needs}")
    return out


__all__ = ["Existing", "existing_url", "of", "parse", "problems", "warnings"]
