"""End-to-end tests of ``portafunc run``: the runner runs as a real subprocess and is driven over real HTTP.

The sample app (runner_fixtures/sample) appends every side effect of its queue, topic, schedule and storage functions
to a JSON-lines file named by $RUNNER_LOG, so the tests observe deliveries (attempt numbers included) from outside.
"""

from __future__ import annotations

import email.message
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from portafunc import App, Message, ScheduleEvent
from portafunc.messaging.memory import broker
from portafunc.runner.bindings import bind_memory, undeclared
from portafunc.runner.console import InFlight
from portafunc.runner.consumers import consumers_for
from portafunc.runner.schedules import Scheduler

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "runner_fixtures" / "sample"
SHOP = REPO / "examples" / "shop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Runner:
    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def records(self, **match: Any) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        rows = [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines() if line]
        return [r for r in rows if all(r.get(k) == v for k, v in match.items())]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, email.message.Message, bytes]:
        req = urllib.request.Request(self.url(path), data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def post_json(self, path: str, doc: Any) -> tuple[int, email.message.Message, bytes]:
        return self.request("POST", path, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def portafunc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "portafunc.cli", *args]


def runner_env(log_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORTAFUNC_QUEUE_", "PORTAFUNC_TOPIC_", "PORTAFUNC_DEADLETTER_"))}
    env.update({"RUNNER_LOG": str(log_path), "PORTAFUNC_RUN_RETRY_DELAY": "0.2", "PORTAFUNC_RUN_GRACE": "1",
                "PORTAFUNC_RUN_POLL": "0.2", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def start(app: Path | str, tmp: Path, *flags: str, **env: str) -> Runner:
    port = free_port()
    stderr_path = tmp / f"runner-{port}.err"
    log_path = tmp / f"records-{port}.jsonl"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(portafunc_cmd("run", str(app), "--port", str(port), *flags), cwd=REPO,
                                env=runner_env(log_path, **env), stdout=err, stderr=subprocess.STDOUT)
    runner = Runner(proc, port, stderr_path, log_path)

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"portafunc run exited with {proc.returncode}:\n{runner.stderr}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 20, f"portafunc run to listen on {port}")
        # the socket listens before the banner is written (in one write): wait for it too
        wait_for(lambda: "portafunc run: app" in runner.stderr or proc.poll() is not None, 10, "the banner")
    except BaseException:
        runner.stop()
        raise
    return runner


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = start(SAMPLE, tmp_path_factory.mktemp("runner"), "--no-reload")
    yield runner
    assert runner.stop() == 0, runner.stderr


# -- HTTP -----------------------------------------------------------------------------------------------------------

def test_banner_lists_url_and_every_function_with_its_trigger(sample: Runner) -> None:
    text = sample.stderr
    assert f"http://127.0.0.1:{sample.port}" in text
    for line in ("echo", "http GET /echo/{name}"), ("flaky", "queue flaky"), ("reader_a", "topic news"), \
            ("nightly", "schedule 0 3 * * *"), ("on_upload", "storage uploads created"):
        assert re.search(rf"^\s+{line[0]}\s+{re.escape(line[1])}", text, re.M), f"{line} missing from\n{text}"
    assert "queue flaky: memory://flaky?max_attempts=3&visibility_timeout=30" in text
    assert "topic news: memory://news" in text
    assert "queue parked: memory://parked" in text  # only published to: found in the source


def test_query_headers_cookies_and_repeated_response_headers(sample: Runner) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sample.port, timeout=10)
    conn.putrequest("GET", "/echo/h%C3%A9llo%20w?a=1&a=2&b=&c=x%2By")
    conn.putheader("X-Multi", "1")
    conn.putheader("X-Multi", "2")
    conn.putheader("Cookie", "session=abc; theme=dark")
    conn.endheaders()
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/; Secure; HttpOnly; SameSite=Lax", "b=2; Path=/; Secure; HttpOnly; SameSite=Lax"]
    assert resp.headers.get_all("X-Multi-Out") == ["one", "two"]
    assert body == {"name": "héllo w", "path": "/echo/héllo w", "query": {"a": ["1", "2"], "b": [""], "c": ["x+y"]},
                    "x_multi": ["1", "2"], "client_ip": "127.0.0.1",
                    "cookies": {"session": "abc", "theme": "dark"}}


def test_valid_body_201_and_invalid_body_400_problem_json(sample: Runner) -> None:
    status, headers, body = sample.post_json("/items", {"name": "pen", "qty": 3})
    assert (status, json.loads(body)) == (201, {"name": "pen", "qty": 3})

    status, headers, body = sample.post_json("/items", {"name": "pen", "qty": "many"})
    assert status == 400
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 400 and [e["loc"] for e in problem["errors"]] == [["qty"]]

    status, headers, body = sample.request("POST", "/items", b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and headers["Content-Type"] == "application/problem+json"


def test_unknown_route_404_and_wrong_method_405(sample: Runner) -> None:
    status, headers, body = sample.request("GET", "/nowhere")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["detail"] == "no function serves GET /nowhere"
    status, headers, _ = sample.request("DELETE", "/items")
    assert status == 405 and headers["Allow"] == "POST"


def test_binary_body_both_ways(sample: Runner) -> None:
    payload = bytes(range(256)) * 4
    status, headers, body = sample.request("PUT", "/blob", payload, {"Content-Type": "application/octet-stream"})
    assert status == 200 and body == payload[::-1]
    assert headers["Content-Length"] == str(len(payload))


def test_one_log_line_per_http_invocation(sample: Runner) -> None:
    sample.request("GET", "/echo/logline?z=1")
    line = wait_for(lambda: re.search(r"^\d\d:\d\d:\d\d GET /echo/logline\?z=1 -> echo 200 [\d.]+ms$",
                                      sample.stderr, re.M), 5, "the invocation line")
    assert line


# -- queues and topics -----------------------------------------------------------------------------------------------

def test_queue_consumer_failing_once_is_retried_with_attempt_2(sample: Runner) -> None:
    status, _, _ = sample.post_json("/send/flaky", {"id": "r-1"})
    assert status == 202
    wait_for(lambda: sample.records(function="flaky", id="r-1", attempt=2), 10, "the second delivery")
    time.sleep(0.5)  # a success must not be delivered again
    assert [r["attempt"] for r in sample.records(function="flaky", id="r-1")] == [1, 2]
    text = sample.stderr
    assert re.search(r"queue flaky -> flaky retry \(message (mem-\d+), attempt 1\)", text)
    assert re.search(r"attempt 1/3 retry \(RuntimeError: first delivery always fails\); redelivery in 0.2s", text)
    assert re.search(r"queue flaky -> flaky success \(message mem-\d+, attempt 2\)", text)


def test_consumer_that_always_fails_lands_in_dead_letter_after_max_attempts(sample: Runner) -> None:
    sample.post_json("/send/doomed", {"id": "d-1"})
    wait_for(lambda: "DEAD-LETTER" in sample.stderr and "queue doomed" in sample.stderr, 10, "the dead letter")
    assert [r["attempt"] for r in sample.records(function="doomed", id="d-1")] == [1, 2]
    assert re.search(r"attempt 2/2 failed \(RuntimeError: this consumer always fails\); max attempts reached",
                     sample.stderr)
    assert re.search(r"DEAD-LETTER 1 message\(s\) of queue doomed moved to memory queue 'doomed-dead-letter' "
                     r"after 2 failed deliveries", sample.stderr)


def test_topic_fans_out_to_both_subscribers(sample: Runner) -> None:
    sample.post_json("/publish/news", {"headline": "hello"})
    for reader in ("reader_a", "reader_b"):
        (row,) = wait_for(partial(sample.records, function=reader), 10, f"{reader} to receive")
        attributes = dict(row["attributes"])
        traceparent, correlation = attributes.pop("traceparent"), attributes.pop("correlation_id")
        assert row["body"] == {"headline": "hello"} and attributes == {"kind": "news"}
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent) and correlation  # the publisher's


# -- stop, trigger, reload ------------------------------------------------------------------------------------------

def test_sigint_stops_cleanly_and_reports_in_flight_and_queued(tmp_path: Path) -> None:
    runner = start(SAMPLE, tmp_path, "--no-reload")
    try:
        for n in range(2):
            assert runner.post_json("/send/parked", {"n": n})[0] == 202
        def slow_request() -> None:
            try:
                runner.request("GET", "/slow?s=20")
            except (urllib.error.URLError, ConnectionError):
                pass  # expected: the runner stops before the handler finishes

        threading.Thread(target=slow_request, daemon=True).start()
        wait_for(lambda: runner.records(event="slow-start"), 10, "the slow request to start")
        started = time.monotonic()
        runner.proc.send_signal(signal.SIGINT)
        code = runner.proc.wait(timeout=10)
        assert code == 0, runner.stderr
        assert time.monotonic() - started < 5  # grace is 1 s: it did not wait for the 20 s handler
        text = runner.stderr
        assert "still in flight after 1s: slow 1" in text
        assert "parked: 2 message(s) queued (0 in flight)" in text
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", runner.port)) != 0  # no longer accepting
    finally:
        runner.stop()


def run_once(*args: str, tmp: Path, **env: str) -> tuple[int, str, list[dict[str, Any]]]:
    log_path = tmp / "once.jsonl"
    proc = subprocess.run(portafunc_cmd("run", *args), cwd=REPO, env=runner_env(log_path, **env),
                          capture_output=True, text=True, timeout=30)
    rows = [json.loads(x) for x in log_path.read_text().splitlines()] if log_path.exists() else []
    return proc.returncode, proc.stdout + proc.stderr, rows


def test_trigger_fires_a_schedule_now(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)
    code, out, rows = run_once(str(SAMPLE), "--trigger", "nightly", tmp=tmp_path)
    assert code == 0, out
    (row,) = rows
    fired = datetime.fromisoformat(row["time"])
    assert before - timedelta(seconds=1) <= fired <= datetime.now(timezone.utc)
    assert re.search(r"schedule 0 3 \* \* \* \(manual\) -> nightly success [\d.]+ms", out)


def test_trigger_storage_sample_event_and_failures_exit_codes(tmp_path: Path) -> None:
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_upload", tmp=tmp_path)
    assert code == 0, out
    assert rows == [{"function": "on_upload", "bucket": "uploads", "key": "in/sample.txt", "kind": "created"}]

    code, out, _ = run_once(str(SAMPLE), "--trigger", "broken_job", tmp=tmp_path)
    assert code == 1 and "broken_job retry" in out and "RuntimeError: the job is broken" in out

    code, out, _ = run_once(str(SAMPLE), "--trigger", "flaky", tmp=tmp_path)
    assert code == 2 and "flaky is a queue function" in out and 'portafunc.queue("flaky").send' in out

    code, out, _ = run_once(str(SAMPLE), "--trigger", "nope", tmp=tmp_path)
    assert code == 2 and "has no function 'nope'" in out


def test_trigger_storage_puts_the_sample_object_into_the_local_memory_bucket(tmp_path: Path) -> None:
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_incoming", tmp=tmp_path)
    assert code == 0, out
    assert rows == [{"function": "on_incoming", "key": "sample.txt", "size": 11, "data": "sample text"}]
    assert "sample object sample.txt (11 bytes) written to bucket incoming (memory://incoming)" in out


def test_trigger_storage_puts_the_sample_object_into_a_file_bucket(tmp_path: Path) -> None:
    directory = tmp_path / "incoming"
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_incoming", tmp=tmp_path,
                               PORTAFUNC_BUCKET_INCOMING=f"file://{directory}")
    assert code == 0, out
    assert (directory / "sample.txt").read_bytes() == b"sample text"
    assert rows == [{"function": "on_incoming", "key": "sample.txt", "size": 11, "data": "sample text"}]

    (directory / "sample.txt").write_bytes(b"the user's own object")  # an object already there is kept, as it is
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_incoming", tmp=tmp_path,
                               PORTAFUNC_BUCKET_INCOMING=f"file://{directory}")
    assert code == 0, out
    assert (directory / "sample.txt").read_bytes() == b"the user's own object"
    assert rows[-1] == {"function": "on_incoming", "key": "sample.txt", "size": 21, "data": "the user's own object"}


def test_trigger_storage_deleted_event_writes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "incoming"
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_removed", tmp=tmp_path,
                               PORTAFUNC_BUCKET_INCOMING=f"file://{directory}")
    assert code == 0, out
    assert rows == [{"function": "on_removed", "key": "sample.txt", "exists": False}]
    assert not directory.exists() or not any(directory.iterdir())


def test_trigger_storage_never_writes_to_a_cloud_bucket(tmp_path: Path) -> None:
    # any request to this endpoint fails at once: a write would make the run fail
    code, out, rows = run_once(str(SAMPLE), "--trigger", "on_upload", tmp=tmp_path,
                               PORTAFUNC_BUCKET_UPLOADS="s3://runner-remote-uploads?timeout=1",
                               AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_ACCESS_KEY_ID="test",
                               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    assert code == 0, out
    assert rows == [{"function": "on_upload", "bucket": "uploads", "key": "in/sample.txt", "kind": "created"}]
    assert ("bucket uploads is bound to s3://runner-remote-uploads?timeout=1 (PORTAFUNC_BUCKET_UPLOADS), not a "
            "local bucket: nothing written there; evt.read() finds the sample object in/sample.txt only if it "
            "exists there") in out
    assert "written to" not in out


@pytest.mark.parametrize("reload_flag", [["--no-reload"], []], ids=["no-reload", "supervised"])
def test_load_errors_are_one_line_and_exit_2(tmp_path: Path, reload_flag: list[str]) -> None:
    code, out, _ = run_once(str(tmp_path / "missing"), *reload_flag, tmp=tmp_path)
    assert code == 2 and out.strip().count("\n") == 0 and out.startswith("portafunc: error:"), out

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "main.py").write_text("from portafunc import App\napp = App('x')\ndef oops(:\n")
    code, out, _ = run_once(str(broken), "--port", str(free_port()), *reload_flag, tmp=tmp_path)
    assert code == 2, out
    assert out.strip().splitlines()[-1].startswith("portafunc: error: importing 'main' failed: SyntaxError"), out
    assert "Traceback" not in out


def test_reload_on_code_change(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(SAMPLE, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    runner = start(app_dir, tmp_path)
    try:
        assert runner.request("GET", "/version")[2] == b"v1"
        time.sleep(0.3)
        (app_dir / "helpers.py").write_text('VERSION = "v2"\n')

        def serves_v2() -> bool:
            try:
                return runner.request("GET", "/version")[2] == b"v2"
            except (urllib.error.URLError, ConnectionError):
                return False  # between the old process and the new one

        wait_for(serves_v2, 15, "the reloaded code")
        assert "reload: helpers.py changed; restarting" in runner.stderr
        assert runner.stderr.count("portafunc run: app 'sample'") == 2
    finally:
        assert runner.stop() == 0, runner.stderr


# -- the example app --------------------------------------------------------------------------------------------------

def test_example_shop_runs_end_to_end(tmp_path: Path) -> None:
    runner = start(SHOP, tmp_path, "--no-reload")
    try:
        status, _, body = runner.post_json("/orders/acme", {"id": "o-1", "total": 9.5})
        assert (status, json.loads(body)) == (201, {"shop": "acme", "id": "o-1"})
        wait_for(lambda: re.search(r"queue orders -> fulfil success", runner.stderr), 10, "fulfil")
        wait_for(lambda: re.search(r"audit: \{'id': 'o-1'\} \{'kind': 'created', 'traceparent': '00-[0-9a-f]{32}-",
                                   runner.stderr), 10, "audit")  # published with the request's trace context
        assert runner.post_json("/orders/acme", {"id": "o-2"})[0] == 400
        assert json.loads(runner.request("GET", "/orders/acme/o-1")[2]) == {"shop": "acme", "id": "o-1"}
    finally:
        assert runner.stop() == 0, runner.stderr


# -- in-process parts: the scheduler's timing, bindings from the environment -----------------------------------------

def test_scheduler_fires_on_the_minute_with_the_scheduled_time() -> None:
    """Real threads and a real wait; only the clock is shifted so the next minute boundary is 0.3 s away."""
    app = App("clock")
    fired: list[tuple[str, datetime, float]] = []

    @app.schedule("rate(1 minute)")
    def every_minute(evt: ScheduleEvent) -> None:
        fired.append(("every_minute", evt.time, time.monotonic()))

    @app.schedule(cron="0 3 * * *")
    def at_three(evt: ScheduleEvent) -> None:
        fired.append(("at_three", evt.time, time.monotonic()))

    real = datetime.now(timezone.utc)
    boundary = real.replace(second=0, microsecond=0) + timedelta(minutes=2)
    if boundary.hour == 3 and boundary.minute == 0:
        boundary += timedelta(minutes=1)
    offset = boundary - timedelta(seconds=0.3) - real
    stop = threading.Event()
    scheduler = Scheduler(list(app), InFlight(), stop, clock=lambda: datetime.now(timezone.utc) + offset)
    started = time.monotonic()
    scheduler.start()
    try:
        wait_for(lambda: fired, 3, "the schedule to fire")
        time.sleep(0.3)
    finally:
        stop.set()
        scheduler.join(2)
    assert [(name, when) for name, when, _ in fired] == [("every_minute", boundary)]
    assert 0.2 <= fired[0][2] - started <= 1.5
    assert scheduler.next_fire["every_minute"] == boundary + timedelta(minutes=1)


def test_existing_bindings_are_kept_and_foreign_ones_are_not_consumed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:

    app = App("bound")

    @app.queue("jobs", max_attempts=4, dead_letter="jobs-failed")
    def work(msg: Message) -> None: ...

    @app.topic("alerts")
    def page(msg: Message) -> None: ...

    @app.queue("remote")
    def far(msg: Message) -> None: ...

    (tmp_path / "extra.py").write_text('import portafunc\nportafunc.topic("audit-log").publish({})\n')
    for name in ("PORTAFUNC_QUEUE_JOBS", "PORTAFUNC_QUEUE_JOBS_FAILED", "PORTAFUNC_TOPIC_AUDIT_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAFUNC_TOPIC_ALERTS", "memory://renamed-alerts")
    monkeypatch.setenv("PORTAFUNC_QUEUE_REMOTE", "sqs://sqs.eu-west-1.amazonaws.com/123456789012/remote")

    bindings = {(b.kind, b.name): b for b in bind_memory(app, tmp_path)}
    assert os.environ["PORTAFUNC_QUEUE_JOBS"] == "memory://jobs?max_attempts=4&visibility_timeout=30" \
                                                 "&dead_letter=jobs-failed"
    assert os.environ["PORTAFUNC_QUEUE_JOBS_FAILED"] == "memory://jobs-failed"
    # A name only found by scanning the source is a lint warning, never a binding: what runs locally is what the
    # resource model (and so every packager) declares.
    assert "PORTAFUNC_TOPIC_AUDIT_LOG" not in os.environ
    assert undeclared(app, tmp_path) == [
        "the code names topic 'audit-log' but no function declares it: add uses=[publishes('audit-log')] to the "
        "decorator of each function that reaches it"]
    assert not bindings[("topic", "alerts")].ours and bindings[("topic", "alerts")].resource == "renamed-alerts"

    consumers, notes = consumers_for(list(app), bindings)
    assert [(c.spec.name, c.queue.name, c.max_attempts) for c in consumers] == [
        ("work", "jobs", 4), ("page", "alerts.page", 5)]
    assert "alerts.page" in broker().subscriptions("renamed-alerts")
    assert len(notes) == 1 and notes[0].startswith("far: queue 'remote' is bound to sqs://")
