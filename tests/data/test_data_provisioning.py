"""The shop's buckets and orders table are created, bound and granted by each cloud's manifest, from the resource
model: the function that declares a table or bucket gets its binding and its permission, and only that function.
(The deploy manifests are checked as data here; tests/aws, tests/azure and tests/gcp boot and validate them.)"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from portafunc import App

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


@pytest.fixture(scope="module")
def shop() -> App:
    sys.path.insert(0, str(SHOP))
    spec = importlib.util.spec_from_file_location("portafunc_example_shop_provisioning", SHOP / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app  # type: ignore[no-any-return]


def test_the_resource_model_lists_the_shops_buckets_and_table(shop: App) -> None:
    model = shop.resources()
    assert {r.name for r in model.of_kind("bucket")} == {"uploads", "thumbnails"}
    assert [r.name for r in model.of_kind("kv")] == ["orders"]
    assert [(f, g.access) for f, g in model.users("kv", "orders")] == [
        ("create_order", ("read", "write")), ("list_orders", ("read",)), ("cancel_order", ("read", "write"))]


def test_aws_template_creates_binds_and_grants_them(shop: App) -> None:
    from portafunc_aws.deploy import sam

    template = sam.build_template(shop, app_ref="main:app", code_uri="shop.zip", python="3.12", arch="x86_64")
    res = template["Resources"]
    table = res["OrdersTable"]["Properties"]
    assert res["OrdersTable"]["Type"] == "AWS::DynamoDB::Table"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert res["ThumbnailsBucket"]["Type"] == res["UploadsBucket"]["Type"] == "AWS::S3::Bucket"

    def env(function: str) -> dict[str, Any]:
        return res[function]["Properties"].get("Environment", {}).get("Variables", {})

    def policies(function: str) -> list[str]:
        return [next(iter(p)) + ":" + json.dumps(next(iter(p.values()))) for p in
                res[function]["Properties"].get("Policies", []) if isinstance(p, dict)]

    assert env("CreateOrderFunction")["PORTAFUNC_KV_ORDERS"] == {"Fn::Sub": "dynamodb://${OrdersTable}"}
    assert any(p.startswith("DynamoDBCrudPolicy:") and "OrdersTable" in p for p in policies("CreateOrderFunction"))
    upload_env = env("OnUploadFunction")
    assert upload_env["PORTAFUNC_BUCKET_UPLOADS"]["Fn::Sub"].startswith("s3://shop-uploads-")
    assert upload_env["PORTAFUNC_BUCKET_THUMBNAILS"]["Fn::Sub"].startswith("s3://shop-thumbnails-")
    upload_policies = policies("OnUploadFunction")
    assert any(p.startswith("S3CrudPolicy:") and "shop-thumbnails-" in p for p in upload_policies)
    # StorageEvent.read()/open() read the object that arrived: the trigger's bucket must be readable
    assert any(p.startswith("S3ReadPolicy:") and "shop-uploads-" in p for p in upload_policies)
    assert "PORTAFUNC_KV_ORDERS" not in env("FulfilFunction")
    listing = policies("ListOrdersFunction")  # it only reads the table
    assert any(p.startswith("DynamoDBReadPolicy:") and "OrdersTable" in p for p in listing)
    assert not any(p.startswith("DynamoDBCrudPolicy:") for p in listing)


def test_azure_template_creates_the_table_and_binds_both(shop: App) -> None:
    from portafunc_azure.deploy import infra

    template = infra.template(shop, "3.12")
    names = [r["name"] for r in template["resources"]]
    assert any("'kvorders'" in n for n in names), "no table for the orders table"
    assert any("'thumbnails'" in n for n in names) and any("'uploads'" in n for n in names)
    site = next(r for r in template["resources"] if r["type"] == "Microsoft.Web/sites")
    settings = {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}
    assert "aztable://" in settings["PORTAFUNC_KV_ORDERS"] and "'kvorders'" in settings["PORTAFUNC_KV_ORDERS"]
    assert "azblob://" in settings["PORTAFUNC_BUCKET_THUMBNAILS"] and "'thumbnails'" in settings[
        "PORTAFUNC_BUCKET_THUMBNAILS"]
    assert "'uploads'" in settings["PORTAFUNC_BUCKET_UPLOADS"]
    assert [r["type"] for r in template["resources"]].count("Microsoft.Storage/storageAccounts/tableServices") == 1


def test_gcp_deploy_script_creates_firestore_with_ttl_and_binds_each_function(shop: App) -> None:
    from portafunc_gcp.deploy.script import render_deploy

    script = render_deploy(shop, "shop-gcp.zip", "3.12", layout="per-route")
    assert "gcloud firestore databases create" in script
    assert "--collection-group=portafunc-kv-orders --enable-ttl" in script  # kv entries written with ttl= expire
    assert 'roles/datastore.user' in script
    assert 'PORTAFUNC_KV_ORDERS: "firestore://${PROJECT}/portafunc-kv-orders"' in script
    assert 'PORTAFUNC_BUCKET_THUMBNAILS: "gs://${BUCKET_THUMBNAILS}"' in script
    assert 'PORTAFUNC_BUCKET_UPLOADS: "gs://${BUCKET_UPLOADS}"' in script
    # StorageEvent.read()/open() read the object that arrived: the trigger's bucket must be readable
    assert ('add-iam-policy-binding "gs://${BUCKET_UPLOADS}" --project="$PROJECT" '
            '--member="serviceAccount:${RUN_SA}" --role=roles/storage.objectViewer') in script
