"""A queue's visibility timeout is at least its consumer's function timeout: Lambda refuses the SQS event source
mapping otherwise ("Queue visibility timeout: 30 seconds is less than Function timeout: 900 seconds"), after
CloudFormation has created the queue and the function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from portafunc import App, Message
from portafunc.config import load_config
from portafunc.errors import RegistrationError
from portafunc_aws.deploy.sam import build_template

from cli_run import portafunc_cli

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
MAIN = """from portafunc import App, Message

app = App("slow")


@app.queue("work"{options})
def crunch(msg: Message) -> None:
    pass


@app.topic("events")
def audit(msg: Message) -> None:
    pass
"""


class _Loader(yaml.SafeLoader):
    """template.yaml as written: CloudFormation's short forms (!GetAtt, !Sub, …) read as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _project(tmp_path: Path, options: str, config: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(MAIN.format(options=options))
    (project / "portafunc.toml").write_text(config)
    return project


def _timeouts(resources: dict[str, Any]) -> tuple[int, int, int]:
    """(the work queue's VisibilityTimeout, the consumer's Timeout, the topic subscriber's queue VisibilityTimeout)."""
    return (resources["WorkQueue"]["Properties"]["VisibilityTimeout"],
            resources["CrunchFunction"]["Properties"]["Timeout"],
            resources["AuditSubscriptionQueue"]["Properties"]["VisibilityTimeout"])


def test_a_packaged_long_running_consumer_gets_a_queue_that_hides_messages_at_least_that_long(tmp_path: Path):
    project = _project(tmp_path, ", visibility_timeout=5400", "[functions.crunch]\ntimeout = 900\n"
                                                              "[functions.audit]\ntimeout = 900\n")
    out = tmp_path / "dist"
    done = portafunc_cli("package", "--target", "aws", "--python", PY, "--out", str(out), str(project))
    assert done.returncode == 0, done.stderr
    resources = yaml.load((out / "aws" / "template.yaml").read_text(), Loader=_Loader)["Resources"]
    queue_visibility, timeout, subscription_visibility = _timeouts(resources)
    assert timeout == 900
    assert queue_visibility == 5400 >= timeout  # the declared visibility_timeout: it already covers the run
    assert subscription_visibility == 5400 >= timeout  # the stack's own choice: six times the function timeout


def test_package_refuses_a_function_timeout_longer_than_its_queue_hides_a_message(tmp_path: Path):
    """Raising the visibility timeout would change the retry delay the decorator declares: refused, naming both
    numbers and what to change, before anything is built."""
    project = _project(tmp_path, "", "[functions.crunch]\ntimeout = 900\n")
    out = tmp_path / "dist"
    done = portafunc_cli("package", "--target", "aws", "--python", PY, "--out", str(out), str(project))
    assert done.returncode != 0
    assert ("function 'crunch': timeout 900 s exceeds the visibility_timeout 30 s of queue 'work'; a message would "
            "be delivered again while the first run is still going. Raise @app.queue(..., visibility_timeout=) to at "
            "least 900") in done.stderr
    assert not (out / "aws" / "template.yaml").exists()


def _app(visibility_timeout: int) -> App:
    app = App("slow")

    @app.queue("work", visibility_timeout=visibility_timeout)
    def crunch(msg: Message) -> None: ...

    @app.topic("events")
    def audit(msg: Message) -> None: ...

    return app


@pytest.mark.parametrize(("visibility", "timeout"), [(30, None), (60, None), (45, 45), (900, 900), (1200, 900),
                                                      (43200, 600), (10, None)])
def test_every_consumer_queue_hides_a_message_at_least_as_long_as_its_function_runs(tmp_path: Path, visibility: int,
                                                                                    timeout: int | None):
    """Set or not (an unset timeout is lowered to the queue's visibility timeout), the template's numbers keep
    Lambda's rule, for the stack's own queues and for the topic subscribers' queues."""
    (tmp_path / "portafunc.toml").write_text(f"[functions]\ncrunch = {{ timeout = {timeout} }}\n"
                                             f"audit = {{ timeout = {timeout} }}\n" if timeout else "")
    app = _app(visibility)
    template = build_template(app, app_ref="main:app", code_uri="code.zip", python="3.12", arch="x86_64",
                              deployment=app.resources(load_config(tmp_path)))
    queue_visibility, function_timeout, subscription_visibility = _timeouts(template["Resources"])
    assert queue_visibility == visibility  # never raised for a checked deployment: the declared retry delay holds
    assert queue_visibility >= function_timeout
    assert subscription_visibility >= template["Resources"]["AuditFunction"]["Properties"]["Timeout"]


def test_the_template_never_writes_a_queue_lambda_would_refuse(tmp_path: Path):
    """A deployment whose timeout changed after it was checked (build_template is public) still gets a queue that
    hides messages for the whole run: the stack is created, rather than rolled back at the event source mapping."""
    app = _app(30)
    model = app.resources(load_config(tmp_path))
    model.functions["crunch"].settings.timeout = 900
    queue_visibility, timeout, _ = _timeouts(build_template(app, app_ref="main:app", code_uri="code.zip",
                                                            python="3.12", arch="x86_64",
                                                            deployment=model)["Resources"])
    assert (queue_visibility, timeout) == (900, 900)


def test_a_set_timeout_longer_than_the_visibility_timeout_is_refused_where_the_deployment_is_resolved(
        tmp_path: Path):
    (tmp_path / "portafunc.toml").write_text("[functions.crunch]\ntimeout = 31\n")
    with pytest.raises(RegistrationError, match="timeout 31 s exceeds the visibility_timeout 30 s of queue 'work'"):
        _app(30).resources(load_config(tmp_path))
