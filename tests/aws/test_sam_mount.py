"""A mounted web app on API Gateway: its catch-all ``/prefix/{path+}`` and the prefix's own URL ``/prefix`` (an API
Gateway greedy variable needs a segment) route to the one function, in the template SAM transforms."""

from __future__ import annotations

import pytest
from mounted_apps import load_mounted

from portafunc_aws.deploy.sam import build_template


@pytest.fixture(scope="module")
def mounted_app():
    return load_mounted("portafunc_test_mounted_sam").app


def test_each_mount_gets_its_catch_all_and_its_bare_prefix_as_routes(mounted_app, monkeypatch) -> None:
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = build_template(mounted_app, app_ref="main:app", code_uri="s3://artifacts/app.zip", python="3.11",
                              arch="x86_64")
    cfn = transform(template, {}, Policies())["Resources"]
    routes: dict[str, set[str]] = {}
    for res in cfn.values():
        if res["Type"] == "AWS::ApiGatewayV2::Api":
            for path, methods in res["Properties"]["Body"]["paths"].items():
                for method, op in methods.items():
                    target = op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
                    function = target.rsplit("${", 1)[1].split(".")[0]  # ...functions/${XFunction.Arn}/invocations
                    routes.setdefault(path, set()).add(f"{method.upper()} {function}")
    for prefix, function in (("/fastapi", "MountFastapiFunction"), ("/flask", "MountFlaskFunction")):
        for path in (prefix, prefix + "/{path+}"):
            assert {r.split()[1] for r in routes[path]} == {function}, routes[path]
            assert {r.split()[0] for r in routes[path]} == {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
    assert {r.split()[1] for r in routes["/native"]} == {"NativeFunction"}
