"""template.yaml's drift part: the daily schedule, the drift job, its alarm and the retrain
trigger, through aws-sam-translator and cfn-lint (SAM file and translated JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_tools import (
    TEMPLATE,
    apply_conditions,
    cfn_lint,
    load_template,
    resolve_conditions,
    translate,
)

from service.aws.drift_job import DISPATCH_EVENT, DRIFT_MAX_PSI
from service.settings.companions import DriftJobSettings

DRIFT_RESOURCES = {
    "DriftFunction",
    "DriftFunctionRole",
    "DriftLogGroup",
    "DriftSchedule",
    "DriftSchedulerRole",
    "DriftAlarm",
    "DriftJobErrorsAlarm",
}
RETRAIN = {"Parameters": {"RetrainRepository": "example/fraudlite"}}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


def translated(sam: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    cfn = translate(sam, parameters or {})
    conditions = resolve_conditions(cfn, parameters or {})
    resources = {
        name: apply_conditions(resource, conditions)
        for name, resource in cfn["Resources"].items()
        if conditions.get(resource.get("Condition"), True)
    }
    return {**cfn, "Resources": resources}


@pytest.fixture(scope="module")
def default(sam: dict[str, Any]) -> dict[str, Any]:
    return translated(sam)


@pytest.fixture(scope="module")
def with_retrain(sam: dict[str, Any]) -> dict[str, Any]:
    return translated(sam, RETRAIN["Parameters"])


def test_cfn_lint_passes_on_the_sam_file_and_the_translation(sam, tmp_path: Path) -> None:
    assert [str(p) for p in cfn_lint(TEMPLATE)] == []
    for name, parameters in (("default", {}), ("retrain", RETRAIN["Parameters"])):
        out = tmp_path / f"{name}.json"
        out.write_text(json.dumps(translate(sam, parameters)))
        assert [str(p) for p in cfn_lint(out)] == [], name


def test_a_daily_scheduler_invokes_the_drift_handler_of_the_same_image(default) -> None:
    resources = default["Resources"]
    assert set(resources) >= DRIFT_RESOURCES
    schedule = resources["DriftSchedule"]["Properties"]
    assert resources["DriftSchedule"]["Type"] == "AWS::Scheduler::Schedule"
    parameters = default["Parameters"]
    assert schedule["ScheduleExpression"] == {"Ref": "DriftScheduleExpression"}
    assert (
        parameters["DriftScheduleExpression"]["Default"] == "cron(0 2 * * ? *)"
    )  # once a day, 02:00 UTC
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["DriftFunction", "Arn"]}
    function = resources["DriftFunction"]["Properties"]
    scoring = resources["ScoringFunction"]["Properties"]
    assert function["ImageConfig"]["Command"] == ["service.aws.drift_job.handler"]
    assert function["PackageType"] == scoring["PackageType"] == "Image"
    assert function["Code"] == scoring["Code"]  # the same image
    # The scheduler's role may invoke the drift function and nothing else.
    (policy,) = resources["DriftSchedulerRole"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == {"Fn::GetAtt": ["DriftFunction", "Arn"]}


def test_the_environment_is_what_the_job_reads(default) -> None:
    variables = default["Resources"]["DriftFunction"]["Properties"]["Environment"]["Variables"]
    # Placeholders for the intrinsic values: the job's own parser must accept every name.
    placeholders = {
        "FRAUD_MODEL_URI": "s3://models/model.onnx",
        "FRAUD_DRIFT_SOURCE": "s3://decisions-bucket/decisions/",
        "FRAUD_DRIFT_REPORT_URI": "s3://decisions-bucket/drift/",
        "FRAUD_DRIFT_DAYS": "1",
        "FRAUD_DRIFT_THRESHOLD": "0.25",
        "FRAUD_DRIFT_WATCH": "0.1",
        "FRAUD_DRIFT_MIN_ROWS": "1000",
        "FRAUD_METRICS_NAMESPACE": "fraudlite",
        "FRAUD_MODEL_SHA256": "",
    }
    assert set(variables) <= set(placeholders)
    assert variables["FRAUD_DRIFT_SOURCE"] == {"Fn::Sub": "s3://${DecisionLogBucket}/decisions/"}
    # Without ModelBucket, FRAUD_MODEL_URI is the image's own (a baked model), as for the API.
    image = {"FRAUD_MODEL_URI": "/opt/fraudlite/model.onnx"}
    settings = DriftJobSettings.from_env(image | {k: placeholders[k] for k in variables})
    assert settings.retrain_secret_id is None  # no retrain trigger unless asked for


def test_drift_alarm_watches_the_jobs_metric_and_notifies_the_alarm_topic(default) -> None:
    alarm = default["Resources"]["DriftAlarm"]["Properties"]
    assert alarm["MetricName"] == DRIFT_MAX_PSI
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert "Dimensions" not in alarm  # the job emits DriftMaxPSI without dimensions
    assert alarm["Threshold"] == {"Ref": "DriftThreshold"}
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"
    errors = default["Resources"]["DriftJobErrorsAlarm"]["Properties"]
    assert errors["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_the_drift_role_is_least_privilege(default, with_retrain) -> None:
    granted = statements(default["Resources"]["DriftFunctionRole"])
    for statement in granted:
        assert statement["Resource"] != "*" and "*" not in str(statement["Action"])
    actions = {
        a for s in granted for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
    }
    by_action = {s["Action"]: s["Resource"] for s in granted if isinstance(s["Action"], str)}
    assert by_action["s3:GetObject"] == {"Fn::Sub": "${DecisionLogBucket.Arn}/decisions/*"}
    assert by_action["s3:PutObject"] == {"Fn::Sub": "${DecisionLogBucket.Arn}/drift/*"}
    # Without a retrain repository there is no secret and no permission to read one.
    assert "RetrainTokenSecret" not in default["Resources"]
    assert "secretsmanager" not in json.dumps(granted)


def test_the_retrain_token_is_read_only_by_the_drift_function(with_retrain) -> None:
    resources = with_retrain["Resources"]
    assert resources["RetrainTokenSecret"]["Type"] == "AWS::SecretsManager::Secret"
    variables = resources["DriftFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["FRAUD_RETRAIN_SECRET_ID"] == {"Ref": "RetrainTokenSecret"}
    assert variables["FRAUD_RETRAIN_REPOSITORY"] == {"Ref": "RetrainRepository"}
    readers = [
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        and "secretsmanager:GetSecretValue" in json.dumps(resource)
    ]
    assert readers == ["DriftFunctionRole"]
    (grant,) = [
        s
        for s in statements(resources["DriftFunctionRole"])
        if s["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert grant["Resource"] == {"Ref": "RetrainTokenSecret"}
    (deny,) = resources["RetrainTokenSecretPolicy"]["Properties"]["ResourcePolicy"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:GetSecretValue"
    assert deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"] == {
        "Fn::GetAtt": ["DriftFunctionRole", "Arn"]
    }
    assert DISPATCH_EVENT == "drift-detected"


def test_drift_resources_follow_the_decision_log_and_the_switch(sam) -> None:
    for parameters in ({"DriftMonitor": "Disabled"}, {"DecisionLog": "Disabled"}):
        resources = translated(sam, parameters)["Resources"]
        assert not DRIFT_RESOURCES & set(resources), parameters
