"""``[targets.aws] otel_layer``: the AWS Distro for OpenTelemetry Lambda layer on every function, with the wrapper
(``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument``) that sets the SDK up before the handler's module runs; the
template still transforms and lints clean; a value that is not a layer version ARN is refused before the build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from portafunc import App, HttpRequest, ScheduleEvent
from portafunc.config import load_config
from portafunc_aws.deploy.sam import OTEL_WRAPPER, build_template, check_deployment, to_yaml

LAYER = "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-python-amd64-ver-1-32-0:2"


def _app() -> App:
    app = App("shop")

    @app.http("GET", "/orders")
    def orders(req: HttpRequest) -> dict:
        return {}

    @app.schedule("rate(1 hour)")
    def nightly(evt: ScheduleEvent) -> None: ...

    return app


def _model(tmp_path: Path, config: str):  # noqa: ANN202 - a Deployment
    (tmp_path / "portafunc.toml").write_text(config)
    return _app().resources(load_config(tmp_path))


def test_the_layer_and_its_wrapper_go_on_every_function(tmp_path: Path) -> None:
    model = _model(tmp_path, f'[targets.aws]\notel_layer = "{LAYER}"\n')
    assert check_deployment(model) == []
    template = build_template(_app(), app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                              arch="x86_64", deployment=model)
    function = template["Globals"]["Function"]
    assert function["Layers"] == [LAYER]
    assert function["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == OTEL_WRAPPER == "/opt/otel-instrument"

    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import yaml

    transformed = transform(yaml.safe_load(to_yaml(template)), {}, Policies())
    functions = [r["Properties"] for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 3  # the two functions and the router answering unmatched routes
    for props in functions:  # SAM merges the globals into every function, with its own variables
        assert props["Layers"] == [LAYER]
        assert props["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == OTEL_WRAPPER
    assert any("PORTAFUNC_FUNCTION" in p["Environment"]["Variables"] for p in functions)
    out = tmp_path / "cfn.json"
    out.write_text(json.dumps(transformed))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout


def test_without_the_option_no_layer_and_no_wrapper(tmp_path: Path) -> None:
    template = build_template(_app(), app_ref="main:app", code_uri="s3://artifacts/x.zip", python="3.12",
                              arch="x86_64", deployment=_model(tmp_path, ""))
    assert "Layers" not in template["Globals"]["Function"]
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in template["Globals"]["Function"]["Environment"]["Variables"]


def test_a_value_that_is_not_a_layer_arn_is_refused(tmp_path: Path) -> None:
    problems = check_deployment(_model(tmp_path, '[targets.aws]\notel_layer = "aws-otel-python"\n'))
    assert problems == ["[targets.aws] otel_layer = 'aws-otel-python' is not a Lambda layer version ARN "
                        "(arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"]
