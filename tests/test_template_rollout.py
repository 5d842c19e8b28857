"""template.yaml's deployment (issue 16): the live alias shifts through CodeDeploy for every
DeploymentType, rolls back on the observability alarms, and runs the pre-traffic hook first;
the hook's and CodeDeploy's roles grant exactly what they need.

Through aws-sam-translator (the CloudFormation AWS would deploy) and cfn-lint on the result.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_tools import DOCKERFILE, cfn_lint, load_template, translate

from service.settings.companions import HookSettings

DEPLOYMENT_TYPES = ("Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce")
#: The observability alarms (issue 15) that roll a deployment back.
ROLLBACK_ALARMS = (
    "FunctionErrorsAlarm",
    "Api5xxAlarm",
    "LatencyP99Alarm",
    "ModelLoadFailuresAlarm",
)
STACK = "fraudlite"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": STACK,
    "AWS::AccountId": "123456789012",
}
S3 = {
    "ModelBucket": "fraud-models-123",
    "ModelKey": "models/v1/model.onnx",
    "ModelSha256": "ab" * 32,
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def sub(node: Any) -> Any:
    """A plain ``Fn::Sub`` string with pseudo parameters filled in (others left as they are)."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        return re.sub(r"\$\{(AWS::[A-Za-z]+)\}", lambda m: PSEUDO[m[1]], node["Fn::Sub"])
    return node


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("deployment", DEPLOYMENT_TYPES)
def test_every_deployment_type_translates_and_lints_clean(
    sam: dict[str, Any], deployment: str, tmp_path: Path
) -> None:
    cfn = translate(sam, {"DeploymentType": deployment, **S3})
    out = tmp_path / "template.json"
    out.write_text(json.dumps(cfn, indent=1))
    problems = cfn_lint(out)
    assert not problems, "\n".join(map(str, problems))
    kinds = [r["Type"] for r in cfn["Resources"].values()]
    assert kinds.count("AWS::CodeDeploy::Application") == 1
    assert kinds.count("AWS::CodeDeploy::DeploymentGroup") == 1
    group = cfn["Resources"]["ScoringFunctionDeploymentGroup"]["Properties"]
    assert group["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": deployment}]
    }
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["ServiceRoleArn"] == {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}
    hook = cfn["Resources"]["DeployHookFunction"]
    assert hook["Type"] == "AWS::Lambda::Function"


def test_canary_is_the_default_and_the_choices_are_the_three(sam: dict[str, Any]) -> None:
    parameter = sam["Parameters"]["DeploymentType"]
    assert parameter["Default"] == "Canary10Percent5Minutes"
    assert sorted(parameter["AllowedValues"]) == sorted(DEPLOYMENT_TYPES)


def test_the_observability_alarms_roll_back(cfn: dict[str, Any]) -> None:
    alarms = cfn["Resources"]["ScoringFunctionDeploymentGroup"]["Properties"]["AlarmConfiguration"]
    assert alarms["Enabled"] is True
    names = [sub(a["Name"]) for a in alarms["Alarms"]]
    expected = []
    for logical_id in ROLLBACK_ALARMS:
        alarm = cfn["Resources"][logical_id]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm"
        # Referenced by Ref, or by its AlarmName where a Ref would close a dependency cycle.
        name = alarm["Properties"].get("AlarmName")
        expected.append(sub(name) if name else {"Ref": logical_id})
    assert names == expected
    assert f"{STACK}-api-5xx" in names


def test_the_hook_runs_before_any_traffic_on_the_new_version(cfn: dict[str, Any]) -> None:
    alias = cfn["Resources"]["ScoringFunctionAliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "DeployHookFunction"}
    assert update["DeploymentGroupName"] == {"Ref": "ScoringFunctionDeploymentGroup"}
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    hook = cfn["Resources"]["DeployHookFunction"]["Properties"]
    env = hook["Environment"]["Variables"]
    # The hook checks the version this deployment publishes, against the deployed ModelSha256.
    assert env["FRAUD_HOOK_TARGET"] == {"Ref": version}
    assert env["FRAUD_HOOK_EXPECTED_SHA256"] == {"Ref": "ModelSha256"}
    settings = HookSettings.from_env({"FRAUD_HOOK_TARGET": "arn:fn:3", **{
        "FRAUD_HOOK_EXPECTED_SHA256": S3["ModelSha256"]}})  # fmt: skip
    assert settings.expected_sha256 == S3["ModelSha256"]


def test_the_hook_is_the_scoring_image_with_the_hook_command(sam: dict[str, Any]) -> None:
    hook = sam["Resources"]["DeployHookFunction"]
    scoring = sam["Resources"]["ScoringFunction"]
    assert hook["Metadata"] == scoring["Metadata"]
    (command,) = hook["Properties"]["ImageConfig"]["Command"]
    module, _, name = command.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert "COPY service/ ${LAMBDA_TASK_ROOT}/service/" in DOCKERFILE.read_text()


def test_hook_role_can_only_invoke_the_new_version_and_report(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"]["DeployHookRole"]
    assert not role["Properties"].get("ManagedPolicyArns")
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    version = cfn["Resources"]["ScoringFunctionAliaslive"]["Properties"]["FunctionVersion"]
    granted = {
        action: statement["Resource"]
        for statement in statements(role)
        for action in as_list(statement["Action"])
    }
    assert granted == {
        "logs:CreateLogStream": {"Fn::GetAtt": ["DeployHookLogGroup", "Arn"]},
        "logs:PutLogEvents": {"Fn::GetAtt": ["DeployHookLogGroup", "Arn"]},
        "lambda:InvokeFunction": {"Ref": version["Fn::GetAtt"][0]},
        "codedeploy:PutLifecycleEventHookExecutionStatus": {
            "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:"
            "deploymentgroup:${ServerlessDeploymentApplication}/${ScoringFunctionDeploymentGroup}"
        },
    }
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements(role))


def test_codedeploy_role_names_the_alias_the_hook_and_the_alarms(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"]["CodeDeployRole"]
    assert not role["Properties"].get("ManagedPolicyArns")
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "codedeploy.amazonaws.com"} and len(trust) == 1
    actions: dict[str, list[Any]] = {}
    for statement in statements(role):
        for action in as_list(statement["Action"]):
            actions[action] = as_list(statement["Resource"])
    assert set(actions) == {
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "lambda:GetProvisionedConcurrencyConfig",
        "lambda:InvokeFunction",
        "cloudwatch:DescribeAlarms",
    }
    for action, resources in actions.items():
        assert "*" not in action
        for resource in resources:
            assert resource != "*", (action, resource)
    hook_name = sub(cfn["Resources"]["DeployHookFunction"]["Properties"]["FunctionName"])
    (invoke,) = actions["lambda:InvokeFunction"]
    assert sub(invoke) == f"arn:aws:lambda:us-east-1:123456789012:function:{hook_name}"
    alarms = [sub(r) for r in actions["cloudwatch:DescribeAlarms"]]
    assert f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{STACK}-api-5xx" in alarms
    assert len(alarms) == len(ROLLBACK_ALARMS)


def test_hook_log_group_is_the_hooks(cfn: dict[str, Any]) -> None:
    hook = cfn["Resources"]["DeployHookFunction"]["Properties"]
    group = cfn["Resources"]["DeployHookLogGroup"]["Properties"]
    assert sub(group["LogGroupName"]) == f"/aws/lambda/{sub(hook['FunctionName'])}"
    assert hook["LoggingConfig"]["LogGroup"] == {"Ref": "DeployHookLogGroup"}


def test_outputs_name_the_deployment(sam: dict[str, Any]) -> None:
    outputs = sam["Outputs"]
    assert outputs["DeploymentGroup"]["Value"] == {"Ref": "ScoringFunctionDeploymentGroup"}
    assert outputs["DeploymentApplication"]["Value"] == {"Ref": "ServerlessDeploymentApplication"}
    assert outputs["DeploymentType"]["Value"] == {"Ref": "DeploymentType"}
