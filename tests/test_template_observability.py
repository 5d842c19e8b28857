"""template.yaml's observability (issue 15): alarms, dashboard, access logs, tracing, decision log.

Through aws-sam-translator and cfn-lint with and without the decision-log pipeline, and
cross-checked against the code: every alarm and dashboard metric in the service's namespace is a
name service/telemetry/metrics.py emits, in a dimension set the EMF records carry, and the
subscription filter selects exactly the decision records the service prints.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_tools import (
    apply_conditions,
    cfn_lint,
    load_template,
    resolve_conditions,
    translate,
)

from service.settings import Settings
from service.telemetry.decision_log import DECISION_EVENT
from service.telemetry.emf import DIMENSION_SETS
from service.telemetry.metrics import DEFAULT_NAMESPACE, METRIC_NAMES

ALARMS = (
    "FunctionErrorsAlarm",
    "FunctionThrottlesAlarm",
    "Api5xxAlarm",
    "LatencyP99Alarm",
    "FlagRateLowAlarm",
    "FlagRateHighAlarm",
    "ModelLoadFailuresAlarm",
)
PIPELINE = (
    "DecisionLogBucket",
    "DecisionLogBucketPolicy",
    "DecisionLogFirehose",
    "DecisionLogFirehoseRole",
    "DecisionLogSubscriptionRole",
    "DecisionLogSubscription",
)
ROOT = Path(__file__).resolve().parents[1]
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "fraudlite",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def resolved(cfn: dict[str, Any], node: Any, parameters: dict[str, str] | None = None) -> Any:
    """``node`` with conditions applied and Ref/Sub of parameters and pseudo parameters
    replaced; a Ref or GetAtt of a resource becomes ``<Name>`` / ``<Name.Attr>``."""
    parameters = parameters or {}
    values = {n: str(p.get("Default", "")) for n, p in cfn["Parameters"].items()}
    values.update(PSEUDO)
    values.update(parameters)
    node = apply_conditions(node, resolve_conditions(cfn, parameters))

    def sub(text: str) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m[1], f"<{m[1]}>"), text)

    def walk(n: Any) -> Any:
        if isinstance(n, dict):
            if set(n) == {"Fn::Sub"} and isinstance(n["Fn::Sub"], str):
                return sub(n["Fn::Sub"])
            if set(n) == {"Ref"}:
                return values.get(n["Ref"], f"<{n['Ref']}>")
            if set(n) == {"Fn::GetAtt"}:
                return f"<{'.'.join(n['Fn::GetAtt'])}>"
            return {k: walk(v) for k, v in n.items()}
        if isinstance(n, list):
            return [walk(x) for x in n]
        return n

    return walk(node)


def present(cfn: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The resources CloudFormation would create for ``parameters``."""
    conditions = resolve_conditions(cfn, parameters or {})
    return {
        name: resource
        for name, resource in cfn["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- lint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"DecisionLog": "Disabled"},
        {"AlarmEmail": "oncall@example.com", "Tracing": "Active", "MetricsNamespace": "fl-stage"},
    ],
    ids=["defaults-with-decision-log", "without-decision-log", "email-tracing-namespace"],
)
def test_translated_template_is_lint_clean(
    sam: dict[str, Any], parameters: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "template.json"
    out.write_text(json.dumps(translate(sam, parameters), indent=1))
    problems = cfn_lint(out)
    assert not problems, "\n".join(map(str, problems))


def test_sam_template_is_lint_clean() -> None:
    problems = cfn_lint(ROOT / "template.yaml")
    assert not problems, "\n".join(map(str, problems))


# --- alarms against the code --------------------------------------------------------------------


def metric_references(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: its own, or each MetricStat of its metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [props]
    return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]


def test_every_alarm_exists_and_notifies_the_topic(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    for name in ALARMS:
        alarm = resources[name]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm", name
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name
        assert "docs/operations.md#" + name.lower() in props["AlarmDescription"], name
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def emitted_names() -> set[str]:
    """Metric names the code can emit: the core set, and the names other modules declare as
    string constants (``NAME: Final = "DriftMaxPSI"``) for ``add_metric`` or their own EMF."""
    names = set(METRIC_NAMES)
    for path in (ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str) and re.fullmatch(r"[A-Z][A-Za-z0-9]{2,}", value):
                    names.add(value)
    return names


def test_alarms_on_service_metrics_use_names_the_code_emits(cfn: dict[str, Any]) -> None:
    emitted = emitted_names()
    core = 0
    for name, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for metric in metric_references(resource):
            if metric["Namespace"] != {"Ref": "MetricsNamespace"}:
                assert metric["Namespace"].startswith("AWS/"), (name, metric)
                continue
            assert metric["MetricName"] in emitted, (name, metric["MetricName"])
            if metric["MetricName"] in METRIC_NAMES:
                core += 1
                # Service-wide: the EMF dimension set [] that every record carries.
                assert not metric.get("Dimensions"), name
    assert [] in DIMENSION_SETS
    assert core >= 5
    assert cfn["Parameters"]["MetricsNamespace"]["Default"] == DEFAULT_NAMESPACE
    # The check can fail: a misspelt name is not among them.
    assert "RequestLatencyMs" not in emitted and "TransactionsFlaged" not in emitted


def test_flag_rate_alarms_form_a_band_judged_on_enough_transactions(cfn: dict[str, Any]) -> None:
    low = resolved(cfn, cfn["Resources"]["FlagRateLowAlarm"]["Properties"])
    high = resolved(cfn, cfn["Resources"]["FlagRateHighAlarm"]["Properties"])
    assert low["ComparisonOperator"] == "LessThanThreshold"
    assert high["ComparisonOperator"] == "GreaterThanThreshold"
    assert float(low["Threshold"]) < float(high["Threshold"])
    for alarm, threshold in ((low, low["Threshold"]), (high, high["Threshold"])):
        (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
        minimum = cfn["Parameters"]["FlagRateMinTransactions"]["Default"]
        # Too few transactions: the threshold itself, which breaches neither alarm.
        assert expression == (f"IF(scored >= {minimum}, 100 * flagged / scored, {threshold})"), (
            expression
        )


def test_latency_alarm_reads_p99_of_request_latency(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["LatencyP99Alarm"]["Properties"]
    assert props["MetricName"] == "RequestLatency"
    assert props["ExtendedStatistic"] == "p99"
    assert props["Threshold"] == {"Ref": "LatencyP99ThresholdMs"}


def test_api_5xx_alarm_is_the_share_of_server_errors(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["Api5xxAlarm"]["Properties"]
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m}
    assert stats["errors"]["MetricName"] == "ServerErrors"
    assert stats["requests"]["MetricName"] == "Requests"
    (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
    assert expression == "IF(requests > 0, 100 * errors / requests, 0)"
    # A rollback trigger of the alias' deployment may not depend on the API (a cycle).
    assert "ScoringApi" not in json.dumps(props)


def test_dashboard_is_valid_json_over_emitted_metrics(cfn: dict[str, Any]) -> None:
    body = json.loads(resolved(cfn, cfn["Resources"]["Dashboard"]["Properties"]["DashboardBody"]))
    titles = [w["properties"].get("title", "") for w in body["widgets"]]
    for wanted in ("Latency", "Requests", "Errors", "Flag rate", "Cold starts", "Concurrency"):
        assert any(wanted in t for t in titles), wanted
    used = set()
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str) and row[0] == DEFAULT_NAMESPACE:
                used.add(row[1])
    assert used <= METRIC_NAMES, used - METRIC_NAMES
    assert {"RequestLatency", "ColdStarts", "TransactionsFlagged", "ServerErrors"} <= used
    (alarms,) = [w["properties"]["alarms"] for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarms) == sorted(f"<{name}.Arn>" for name in ALARMS)


# --- function, API, tracing ---------------------------------------------------------------------


@pytest.mark.parametrize(("switch", "expected"), [("Enabled", "stdout"), ("Disabled", "off")])
def test_function_environment_configures_the_telemetry(
    cfn: dict[str, Any], switch: str, expected: str
) -> None:
    function = cfn["Resources"]["ScoringFunction"]
    env = resolved(cfn, function["Properties"]["Environment"]["Variables"], {"DecisionLog": switch})
    settings = Settings.from_env(env)
    assert settings.decision_log == expected
    assert settings.metrics_namespace == DEFAULT_NAMESPACE


@pytest.mark.parametrize(
    ("decisions", "drift", "bins"),
    [("Enabled", "Enabled", True), ("Enabled", "Disabled", False), ("Disabled", "Enabled", False)],
)
def test_decision_lines_carry_drift_bins_only_for_the_drift_job(
    cfn: dict[str, Any], decisions: str, drift: str, bins: bool
) -> None:
    function = cfn["Resources"]["ScoringFunction"]
    parameters = {"DecisionLog": decisions, "DriftMonitor": drift}
    env = resolved(cfn, function["Properties"]["Environment"]["Variables"], parameters)
    assert Settings.from_env(env).drift_bins is bins


@pytest.mark.parametrize(("tracing", "xray"), [("PassThrough", False), ("Active", True)])
def test_tracing_is_a_parameter_off_by_default(
    cfn: dict[str, Any], sam: dict[str, Any], tracing: str, xray: bool
) -> None:
    assert sam["Parameters"]["Tracing"]["Default"] == "PassThrough"
    function = cfn["Resources"]["ScoringFunction"]
    props = resolved(cfn, function["Properties"], {"Tracing": tracing})
    assert props["TracingConfig"] == {"Mode": tracing}
    role = resolved(
        cfn, cfn["Resources"]["ScoringFunctionRole"]["Properties"], {"Tracing": tracing}
    )
    actions = [
        a
        for policy in role["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        for a in as_list(s["Action"])
    ]
    assert ("xray:PutTraceSegments" in actions) is xray


def test_api_access_logs_go_to_a_group_with_retention(cfn: dict[str, Any]) -> None:
    (stage,) = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(settings["Format"])
    assert {"requestId", "status", "route", "latencyMs"} <= set(fields)
    group = cfn["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# --- decision log ------------------------------------------------------------------------------


@pytest.mark.parametrize(("switch", "exists"), [("Enabled", True), ("Disabled", False)])
def test_pipeline_only_when_enabled_and_enabled_by_default(
    cfn: dict[str, Any], sam: dict[str, Any], switch: str, exists: bool
) -> None:
    assert sam["Parameters"]["DecisionLog"]["Default"] == "Enabled"
    resources = present(cfn, {"DecisionLog": switch})
    for name in PIPELINE:
        assert (name in resources) is exists, name


def test_bucket_is_encrypted_versioned_private_and_expires(cfn: dict[str, Any]) -> None:
    bucket = cfn["Resources"]["DecisionLogBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = resolved(cfn, bucket["Properties"])
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    rules = {r["Prefix"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["decisions/"]["ExpirationInDays"] == str(
        cfn["Parameters"]["DecisionLogRetentionDays"]["Default"]
    )
    assert all(
        r["Status"] == "Enabled" and "NoncurrentVersionExpiration" in r for r in rules.values()
    )
    policy = resolved(cfn, cfn["Resources"]["DecisionLogBucketPolicy"]["Properties"])
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_firehose_writes_date_partitions_of_extracted_messages(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["DecisionLogFirehose"]["Properties"]
    assert props["DeliveryStreamType"] == "DirectPut"
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert (
        s3["Prefix"]
        == "decisions/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    )
    assert s3["ErrorOutputPrefix"].startswith("errors/")
    assert s3["CompressionFormat"] == "GZIP"
    processors = [p["Type"] for p in s3["ProcessingConfiguration"]["Processors"]]
    assert processors == ["Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord"]


def test_subscription_filter_selects_exactly_the_decision_records(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["DecisionLogSubscription"]["Properties"]
    assert props["LogGroupName"] == {"Ref": "ScoringLogGroup"}
    match = re.fullmatch(r'\{ \$\.(\w+) = "(\w+)" \}', props["FilterPattern"])
    assert match, props["FilterPattern"]
    key, value = match.groups()
    assert (key, value) == ("event", DECISION_EVENT)
    # The other JSON lines the function prints carry other "event" values.
    assert value not in ("request", "metrics")


def test_pipeline_roles_are_least_privilege(cfn: dict[str, Any]) -> None:
    firehose = resolved(cfn, cfn["Resources"]["DecisionLogFirehoseRole"]["Properties"])
    (trust,) = firehose["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "123456789012"}}
    statements = [s for p in firehose["Policies"] for s in p["PolicyDocument"]["Statement"]]
    for statement in statements:
        assert all(a.startswith("s3:") and "*" not in a for a in as_list(statement["Action"]))
        assert all(
            str(r).startswith("<DecisionLogBucket.Arn>") for r in as_list(statement["Resource"])
        )
    writes = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert writes[0]["Resource"] == [
        "<DecisionLogBucket.Arn>/decisions/*",
        "<DecisionLogBucket.Arn>/errors/*",
    ]
    logs = resolved(cfn, cfn["Resources"]["DecisionLogSubscriptionRole"]["Properties"])
    (trust,) = logs["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    (statement,) = [s for p in logs["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert sorted(statement["Action"]) == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert statement["Resource"] == "<DecisionLogFirehose.Arn>"


def test_outputs_name_the_topic_dashboard_and_bucket(sam: dict[str, Any]) -> None:
    outputs = sam["Outputs"]
    assert {"AlarmTopicArn", "DashboardUrl", "DecisionLogBucketName"} <= set(outputs)
    assert outputs["DecisionLogBucketName"]["Condition"] == "DecisionLogEnabled"
