"""Just enough of CloudFormation to deploy a transformed SAM template's data plane into moto server.

Creates the template's SQS queues (with their redrive policies), SNS topics and subscriptions, DynamoDB tables and S3
buckets, then resolves each Lambda function's environment (``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and the
``{{resolve:secretsmanager:…}}`` / ``{{resolve:ssm:…}}`` dynamic references, read from moto's Secrets Manager and
SSM as CloudFormation would at deploy time). What it does not do — IAM evaluation, the Lambda service itself, event
source mappings — is what moto cannot check; cfn-lint and the SAM transform cover the template's validity.
"""

from __future__ import annotations

import json
import re
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com",
          "AWS::Partition": "aws", "AWS::StackName": "portafunc-test"}


class Stack:
    """Physical values of the template's resources: ``Ref`` and attributes per logical id."""

    def __init__(self, resources: dict[str, Any], boto: Any) -> None:
        self.resources = resources
        self.boto = boto
        self.physical: dict[str, dict[str, str]] = {}

    def deploy(self) -> Stack:
        import boto3

        ddb = boto3.client("dynamodb", region_name=REGION)
        for lid, res in self.resources.items():
            props = res.get("Properties", {})
            kind = res["Type"]
            if kind == "AWS::SQS::Queue":
                fifo = bool(props.get("FifoQueue"))
                name = lid + (".fifo" if fifo else "")
                attrs = {"FifoQueue": "true"} if fifo else {}
                url = self.boto.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
                arn = self.boto.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                    "Attributes"]["QueueArn"]
                self.physical[lid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
            elif kind == "AWS::SNS::Topic":
                arn = self.boto.sns.create_topic(Name=lid)["TopicArn"]
                self.physical[lid] = {"Ref": arn, "TopicArn": arn, "TopicName": lid}
            elif kind == "AWS::DynamoDB::Table":
                ddb.create_table(TableName=lid, BillingMode=props["BillingMode"],
                                 AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])
                ttl = props.get("TimeToLiveSpecification")
                if ttl:
                    ddb.update_time_to_live(TableName=lid, TimeToLiveSpecification=ttl)
                self.physical[lid] = {"Ref": lid, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{lid}"}
            elif kind == "AWS::S3::Bucket":
                name = self.resolve(props.get("BucketName", lid.lower()))
                self.boto.s3.create_bucket(Bucket=name)
                self.physical[lid] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
        for lid, res in self.resources.items():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in props:
                policy = {k: self.resolve(v) for k, v in props["RedrivePolicy"].items()}
                self.boto.sqs.set_queue_attributes(QueueUrl=self.physical[lid]["Ref"],
                                                   Attributes={"RedrivePolicy": json.dumps(policy)})
            elif res["Type"] == "AWS::SNS::Subscription":
                self.boto.sns.subscribe(TopicArn=self.resolve(props["TopicArn"]), Protocol=props["Protocol"],
                                        Endpoint=self.resolve(props["Endpoint"]))
        return self

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return self._dynamic(value)
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return PSEUDO.get(value["Ref"]) or self.physical[value["Ref"]]["Ref"]
        if set(value) == {"Fn::GetAtt"}:
            lid, attr = value["Fn::GetAtt"]
            return self.physical[lid][attr]
        if set(value) == {"Fn::Sub"}:
            spec = value["Fn::Sub"]
            text, names = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])
            local = {k: self.resolve(v) for k, v in names.items()}

            def sub(match: re.Match[str]) -> str:
                key = match.group(1)
                if key in local:
                    return str(local[key])
                if key in PSEUDO:
                    return PSEUDO[key]
                lid, _, attr = key.partition(".")
                return self.physical[lid][attr or "Ref"]

            return self._dynamic(re.sub(r"\$\{([^}]+)\}", sub, text))
        return {k: self.resolve(v) for k, v in value.items()}

    def _dynamic(self, text: str) -> str:
        def resolve(match: re.Match[str]) -> str:
            service, ref = match.group(1), match.group(2)
            if service == "secretsmanager":
                return str(self.boto.secrets.get_secret_value(SecretId=ref.split(":", 1)[0])["SecretString"])
            return str(self.boto.ssm.get_parameter(Name=ref)["Parameter"]["Value"])

        return re.sub(r"\{\{resolve:(secretsmanager|ssm):([^}]+)\}\}", resolve, text)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        variables = self.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {k: str(self.resolve(v)) for k, v in variables.items()}


def references(value: Any) -> set[str]:
    """Every logical id a template value points at (Ref, GetAtt, ${X} / ${X.Attr} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".")[0])
            elif key == "Fn::Sub":
                text, names = (item, {}) if isinstance(item, str) else (item[0], item[1])
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text) if m not in names}
                found |= references(names)
            else:
                found |= references(item)
    return {f for f in found if not f.startswith("AWS::")}
