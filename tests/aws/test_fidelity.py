"""What AWS events mean, checked on samples from outside the repository (tests/fixtures/events/MANIFEST.md names
each source; ``derived-*`` samples change one documented field of a real one).

* S3 restore and replication notifications get their exact neutral kinds (a restore that only started is not
  ``restored``; a restored copy that expired is not ``restored`` and its object is not ``deleted``).
* A storage function receives only the kinds it registered for, through the real Lambda handler.
* Inputs that are not HTTP requests although they look like them (API Gateway Lambda authorizer inputs, WebSocket
  API events) are refused with ``EventDecodeError`` instead of running an HTTP route.
* An HTTP API on a named stage routes ``/orders``, not ``/prod/orders``.
"""

from __future__ import annotations

import copy

import pytest

from portafunc import App, StorageEvent
from portafunc.errors import EventDecodeError
from portafunc.events import STORAGE_EVENT_KINDS, HttpRequest
from portafunc.targets import get_target
from portafunc_aws.codecs import storage
from portafunc_aws.lambda_context import LambdaContext
from portafunc_aws.runtime import bind

from aws_test_support import load_fixture

aws = get_target("aws")


@pytest.mark.parametrize(("sample", "kind"), [
    ("s3/derived-golang-s3-restore-post-event.json", "restore_started"),
    ("s3/golang-s3-restore-event.json", "restored"),
    ("s3/derived-golang-s3-restore-delete-event.json", "restore_expired"),
    ("s3/golang-s3-replication-event.json", "replication_failed"),
    ("eventbridge/powertools-s3EventBridgeNotificationObjectRestoreCompletedEvent.json", "restored"),
    ("eventbridge/derived-powertools-s3EventBridgeNotificationObjectRestoreExpiredEvent.json", "restore_expired"),
    ("eventbridge/powertools-s3EventBridgeNotificationObjectExpiredEvent.json", "deleted"),
])
def test_s3_restore_and_replication_events_get_their_exact_kind(sample, kind):
    [event] = aws.decode(load_fixture(sample))
    assert isinstance(event, StorageEvent) and event.kind == kind


def test_every_s3_event_type_maps_into_the_documented_vocabulary():
    names = ["ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload",
             "ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated", "ObjectRestore:Post",
             "ObjectRestore:Completed", "ObjectRestore:Delete", "ReducedRedundancyLostObject",
             "Replication:OperationFailedReplication", "Replication:OperationMissedThreshold",
             "Replication:OperationReplicatedAfterThreshold", "Replication:OperationNotTracked",
             "LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated", "LifecycleTransition",
             "IntelligentTiering", "ObjectTagging:Put", "ObjectTagging:Delete", "ObjectAcl:Put", "Made:Up"]
    kinds = {name: storage.s3_kind(name) for name in names}
    assert set(kinds.values()) <= set(STORAGE_EVENT_KINDS)
    assert storage.s3_kind("s3:ObjectRestore:Completed") == "restored"  # aws-lambda-go's samples keep the prefix
    assert kinds["Made:Up"] == "other" and kinds["ReducedRedundancyLostObject"] == "other"


@pytest.mark.parametrize("kind", [k for k in STORAGE_EVENT_KINDS if k != "other"])
@pytest.mark.parametrize("variant", ["s3", "eventbridge"])
def test_every_kind_survives_a_round_trip(kind, variant):
    if variant == "eventbridge" and kind.startswith("replicat"):
        pytest.skip("S3 sends no replication events to EventBridge")
    native = aws.encode(StorageEvent(bucket="b", key="k", kind=kind), variant)
    assert aws.decode(native)[0].kind == kind


def _storage_app(events: tuple[str, ...]) -> tuple[App, list[str]]:
    app = App("fidelity")
    seen: list[str] = []

    @app.storage("uploads", events=events)
    def on_upload(evt: StorageEvent) -> None:
        seen.append(evt.kind)

    return app, seen


def test_a_storage_function_receives_only_the_kinds_it_registered_for():
    """A bucket notification (or queue) carrying more than the function asked for: the extra events are
    acknowledged without running the handler, as on GCP and Azure."""
    app, seen = _storage_app(("created",))
    handler = bind(app, "on_upload")
    restore = load_fixture("s3/derived-golang-s3-restore-post-event.json")
    assert handler(restore, LambdaContext()) is None
    put = load_fixture("s3/sam-S3Put.json")
    handler(put, LambdaContext())
    eb = load_fixture("eventbridge/derived-powertools-s3EventBridgeNotificationObjectRestoreExpiredEvent.json")
    handler(eb, LambdaContext())
    assert seen == ["created"]
    via_sqs = aws.encode(StorageEvent(bucket="uploads", key="x", kind="deleted"), "s3-sqs")
    assert handler(via_sqs, LambdaContext()) == {"batchItemFailures": []}
    assert seen == ["created"]


def test_prefix_and_suffix_filter_on_aws_too():
    app = App("fidelity")
    seen: list[str] = []

    @app.storage("uploads", prefix="in/", suffix=".png")
    def on_upload(evt: StorageEvent) -> None:
        seen.append(evt.key)

    handler = bind(app, "on_upload")
    for key in ("in/a.png", "out/a.png", "in/a.jpg"):
        handler(aws.encode(StorageEvent(bucket="uploads", key=key), "s3"), LambdaContext())
    assert seen == ["in/a.png"]


@pytest.mark.parametrize("sample", [
    "http-authorizer/powertools-apiGatewayAuthorizerRequestEvent.json",
    "http-authorizer/powertools-apiGatewayAuthorizerTokenEvent.json",
    "http-authorizer/powertools-apiGatewayAuthorizerV2Event.json",
    "http-authorizer/golang-apigw-custom-auth-request-type-request.json",
    "http-websocket/golang-apigw-websocket-request.json",
    "http-websocket/golang-apigw-websocket-request-disconnect.json",
    "http-websocket/golang-apigw-websocket-request-send-message.json",
])
def test_authorizer_and_websocket_inputs_are_refused_not_served_as_http(sample):
    app = App("fidelity")
    ran: list[str] = []

    @app.http("GET", "/{path+}")
    def anything(req: HttpRequest) -> str:
        ran.append(req.path)
        return "ok"

    native = load_fixture(sample)
    with pytest.raises(EventDecodeError) as info:
        aws.decode(native)
    assert "authorizer" in str(info.value) or "WebSocket" in str(info.value)
    with pytest.raises(EventDecodeError):
        bind(app)(native, LambdaContext())
    assert ran == []


def test_http_api_named_stage_is_not_part_of_the_route_path():
    app = App("fidelity")

    @app.http("POST", "/my/path")
    def mine(req: HttpRequest) -> str:
        return "mine"

    native = load_fixture("http-apigw-v2/derived-powertools-apiGatewayProxyV2Event-named-stage.json")
    assert aws.decode(native)[0].path == "/my/path"
    answer = bind(app)(native, LambdaContext())
    assert answer["statusCode"] == 200 and answer["body"] == "mine"


def test_stage_is_stripped_only_when_it_is_the_path_prefix():
    base = load_fixture("http-apigw-v2/derived-powertools-apiGatewayProxyV2Event-named-stage.json")
    other = copy.deepcopy(base)
    other["rawPath"] = "/production/x"  # starts with the stage's letters, not with the stage segment
    assert aws.decode(other)[0].path == "/production/x"
    default = load_fixture("http-apigw-v2/powertools-apiGatewayProxyV2Event.json")
    assert aws.decode(default)[0].path == "/my/path"  # $default: nothing to strip
    exact = copy.deepcopy(base)
    exact["rawPath"] = "/prod"
    assert aws.decode(exact)[0].path == "/"


@pytest.mark.parametrize(("sample", "raw"), [
    ("http-apigw-v2/sam-HttpApi.json", "parameter1=value1&parameter1=value2&parameter2=value"),
    ("http-apigw-v2/powertools-apiGatewayProxyV2Event.json", "parameter1=value1&parameter1=value2&parameter2=value"),
    ("http-function-url/powertools-lambdaFunctionUrlEvent.json", ""),
    ("http-apigw-v1/powertools-apiGatewayProxyEvent.json", None),  # REST hands over decoded parameters only
    ("http-alb/sam-ALBRequest.json", None),  # ALB: name/value lists, not the query string
])
def test_raw_query_is_the_query_string_as_sent_where_the_event_carries_it(sample, raw):
    native = load_fixture(sample)
    assert aws.decode(native)[0].raw_query == raw
