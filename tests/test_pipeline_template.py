"""pipeline.yaml (the account's CI/CD foundation): cfn-lint, the deploy role's trust, least
privilege, the ECR repository and the model bucket; and that its CloudFormation execution role
covers every resource type the application template creates."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_tools import apply_conditions, cfn_lint, load_template, resolve_conditions, translate

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipeline.yaml"
PARAMS = {"GitHubOwner": "acme", "GitHubRepository": "fraudlite"}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
ROLES = ("DeployRole", "CloudFormationExecutionRole")
#: Services whose writes must never be granted on "*".
GUARDED = ("iam", "s3", "ecr")
READ_ONLY = re.compile(r"^(Get|List|Describe|BatchGet|BatchCheck)")
#: CloudFormation resource namespace -> IAM service prefix.
SERVICE = {
    "Lambda": "lambda",
    "IAM": "iam",
    "ApiGatewayV2": "apigateway",
    "ApiGateway": "apigateway",
    "Logs": "logs",
    "SNS": "sns",
    "CloudWatch": "cloudwatch",
    "S3": "s3",
    "KinesisFirehose": "firehose",
    "CodeDeploy": "codedeploy",
    "Scheduler": "scheduler",
    "Events": "events",
    "SSM": "ssm",
    "SecretsManager": "secretsmanager",
    "SQS": "sqs",
}


def resolved(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """pipeline.yaml with conditions applied and Ref/Sub/GetAtt turned into strings."""
    template = load_template(PIPELINE)
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values |= PARAMS | (parameters or {})
    conditions = resolve_conditions(template, values)
    resources = template["Resources"]

    def ref(name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in values:
            return values[name]
        assert name in resources, f"Ref to unknown {name}"
        return f"<{name}>"

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"}:
                return ref(node["Ref"])
            if set(node) == {"Fn::GetAtt"}:
                target, attribute = node["Fn::GetAtt"]
                assert target in resources, f"GetAtt of unknown {target}"
                return f"<{target}.{attribute}>"
            if set(node) == {"Fn::Sub"}:
                text = node["Fn::Sub"]
                assert isinstance(text, str)

                def one(match: re.Match[str]) -> str:
                    name = match.group(1)
                    return ref(name) if "." not in name or name in PSEUDO else f"<{name}>"

                return re.sub(r"\$\{([^}]+)\}", one, text)
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    kept = {
        name: r
        for name, r in resources.items()
        if "Condition" not in r or conditions[r["Condition"]]
    }
    return walk(apply_conditions({**template, "Resources": kept}, conditions))


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_writes(template: dict[str, Any]) -> list[str]:
    """Allowed IAM/S3/ECR write actions on "*" (or wildcard actions of those services)."""
    found = []
    for name in ROLES:
        for st in statements(template["Resources"][name]):
            if st["Effect"] != "Allow":
                continue
            resources = as_list(st["Resource"])
            for action in as_list(st["Action"]):
                service, _, verb = action.partition(":")
                if action == "*" or (service in GUARDED and "*" in verb):
                    found.append(f"{name}: wildcard action {action}")
                elif service in GUARDED and not READ_ONLY.match(verb) and "*" in resources:
                    found.append(f"{name}: {action} on *")
    return found


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    return resolved()


def test_cfn_lint_is_clean() -> None:
    problems = cfn_lint(PIPELINE)
    assert not problems, "\n".join(map(str, problems))


def test_deploy_role_trusts_only_this_repositorys_main_branch_and_environments(pipeline) -> None:
    trust = pipeline["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": "<GitHubOidcProvider>"}
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no wildcards
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = condition["token.actions.githubusercontent.com:sub"]
    assert sorted(subjects) == sorted(
        [
            "repo:acme/fraudlite:ref:refs/heads/main",
            "repo:acme/fraudlite:environment:staging",
            "repo:acme/fraudlite:environment:production",
            "repo:acme/fraudlite:environment:retrain",
        ]
    )
    assert not any("*" in s or "?" in s for s in subjects)


def test_an_existing_oidc_provider_can_be_used_instead(pipeline) -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    other = resolved({"CreateOidcProvider": "false", "ExistingOidcProviderArn": arn})
    assert "GitHubOidcProvider" not in other["Resources"]
    trust = other["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Federated": arn}
    provider = pipeline["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_no_iam_s3_or_ecr_write_on_a_star_resource(pipeline) -> None:
    assert wildcard_writes(pipeline) == []
    with_training = resolved({"TrainingDataBucket": "acme-data"})
    assert wildcard_writes(with_training) == []


def test_the_wildcard_check_catches_a_planted_grant(pipeline) -> None:
    bad = copy.deepcopy(pipeline)
    policy = bad["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})
    policy["Statement"].append({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:x"})
    assert wildcard_writes(bad) == [
        "DeployRole: s3:PutObject on *",
        "DeployRole: wildcard action iam:*",
    ]


def test_every_grant_is_scoped_to_this_accounts_fraudlite_resources(pipeline) -> None:
    allowed_star = {"cloudformation:ValidateTemplate", "ecr:GetAuthorizationToken"}
    allowed_star.add("logs:DescribeLogGroups")
    # API Gateway access-log delivery: logs actions AWS does not scope to a resource.
    allowed_star |= {
        f"logs:{verb}"
        for verb in (
            "CreateLogDelivery",
            "DeleteLogDelivery",
            "DescribeResourcePolicies",
            "GetLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "UpdateLogDelivery",
        )
    }
    for name in ROLES:
        for st in statements(pipeline["Resources"][name]):
            for resource in as_list(st["Resource"]):
                if resource == "*":
                    assert set(as_list(st["Action"])) <= allowed_star, st
                    continue
                assert resource.startswith(("arn:aws:", "<")), resource
                if resource.startswith("arn:aws:apigateway:us-east-1::/"):
                    continue  # HTTP API ids are random: AWS scopes them by region only
                if resource.startswith("arn:aws:") and ":aws:transform/" not in resource:
                    # the stacks' own names, the repository, the bucket, or the training prefix
                    assert "fraudlite-" in resource or "deploymentconfig" in resource, resource


def test_deploy_role_may_pass_only_the_execution_role_to_cloudformation(pipeline) -> None:
    passes = [
        st
        for st in statements(pipeline["Resources"]["DeployRole"])
        if "iam:PassRole" in as_list(st["Action"])
    ]
    (passing,) = passes
    assert passing["Resource"] == "<CloudFormationExecutionRole.Arn>"
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }


def test_training_data_is_read_only_and_only_when_configured(pipeline) -> None:
    names = [p["PolicyName"] for p in pipeline["Resources"]["DeployRole"]["Properties"]["Policies"]]
    assert "ReadTrainingData" not in names
    other = resolved({"TrainingDataBucket": "acme-data", "TrainingDataPrefix": "paysim/"})
    (policy,) = [
        p
        for p in other["Resources"]["DeployRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "ReadTrainingData"
    ]
    (st,) = policy["PolicyDocument"]["Statement"]
    assert st["Action"] == "s3:GetObject"
    assert st["Resource"] == "arn:aws:s3:::acme-data/paysim/*"


def test_ecr_repository_is_immutable_scanned_and_pruned(pipeline) -> None:
    repo = pipeline["Resources"]["ImageRepository"]["Properties"]
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(repo["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert [r["action"]["type"] for r in rules] == ["expire", "expire"]
    assert rules[0]["selection"]["tagStatus"] == "untagged"


def test_ecr_lifecycle_keeps_the_configured_number_of_images() -> None:
    template = load_template(PIPELINE)
    text = template["Resources"]["ImageRepository"]["Properties"]["LifecyclePolicy"][
        "LifecyclePolicyText"
    ]["Fn::Sub"]
    rules = json.loads(text.replace("${ImagesToKeep}", "30"))["rules"]
    assert rules[1]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }


def test_model_bucket_is_versioned_encrypted_private_and_tls_only(pipeline) -> None:
    bucket = pipeline["Resources"]["ModelBucket"]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["DeletionPolicy"] == "Retain"
    policy = pipeline["Resources"]["ModelBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_execution_role_covers_every_resource_type_of_the_application_template(
    pipeline,
) -> None:
    app = translate(load_template(ROOT / "template.yaml"))
    types = {r["Type"] for r in app["Resources"].values()}
    granted = {
        action.partition(":")[0]
        for st in statements(pipeline["Resources"]["CloudFormationExecutionRole"])
        if st["Effect"] == "Allow"
        for action in as_list(st["Action"])
    }
    missing = []
    for kind in sorted(types):
        namespace = kind.split("::")[1]
        service = SERVICE.get(namespace)
        if service is None or service not in granted:
            missing.append(kind)
    assert not missing, (
        f"template.yaml creates {missing}: add a statement for them to pipeline.yaml's "
        "CloudFormationExecutionRole (and the service to this test's SERVICE map)"
    )
    assert {"lambda", "iam", "apigateway", "logs"} <= {
        SERVICE[k.split("::")[1]] for k in types if k.split("::")[1] in SERVICE
    }


def test_outputs_are_the_workflow_variables(pipeline) -> None:
    assert set(pipeline["Outputs"]) == {
        "DeployRoleArn",
        "CloudFormationExecutionRoleArn",
        "ImageRepositoryUri",
        "ModelBucketName",
    }
