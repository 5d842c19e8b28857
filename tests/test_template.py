"""template.yaml: SAM transform, cfn-lint on both forms, and what the deployment grants and routes.

All offline: aws-sam-translator turns the SAM file into the CloudFormation that AWS would deploy
(region and managed policies given in code), and cfn-lint checks both. Current cfn-lint no
longer expands SAM itself, so references to resources that only the transform creates are
checked on the translated JSON; one test shows such a broken reference being caught there.
"""

from __future__ import annotations

import json
import re
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
from starlette.routing import Route

from service.app import create_app
from service.model import ModelLoadFailure
from service.settings import Settings

ROUTES = {
    ("POST", "/predict"),
    ("GET", "/health"),
    ("GET", "/model"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    # KServe V2 (service/v2/routes.py)
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    *(
        (method, f"{base}{suffix}")
        for base in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}")
        for method, suffix in (("GET", ""), ("GET", "/ready"), ("POST", "/infer"))
    ),
}
PARAMETERS = (
    "ModelBucket",
    "ModelKey",
    "ModelSha256",
    "Architecture",
    "MemorySize",
    "Timeout",
    "ProvisionedConcurrency",
    "LogRetentionDays",
    "ThrottleBurst",
    "ThrottleRate",
    "AuthMode",
)
S3_DEPLOY = {
    "ModelBucket": "fraud-models-123",
    "ModelKey": "fraudlite/v3/model.onnx",
    "ModelSha256": "ab" * 32,
}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::StackName": "fraudlite"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def resources_of(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def one(cfn: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources_of(cfn, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))


def function_resource(cfn: dict[str, Any], name: str) -> dict[str, Any]:
    """The scoring function's own role or log group: the template has others (issue 15's
    decision-log pipeline roles, the API access log group), checked in their own test files."""
    return cfn["Resources"][name]


def resolved(cfn: dict[str, Any], node: Any, parameters: dict[str, str]) -> Any:
    """``node`` as CloudFormation would see it for ``parameters``: Fn::If and AWS::NoValue
    resolved, and Fn::Sub / Ref of parameters and pseudo parameters replaced by values."""
    values = {n: str(p.get("Default", "")) for n, p in cfn["Parameters"].items()}
    values.update(PSEUDO)
    values.update(parameters)
    node = apply_conditions(node, resolve_conditions(cfn, parameters))

    def walk(n: Any) -> Any:
        if isinstance(n, dict):
            if set(n) == {"Fn::Sub"} and isinstance(n["Fn::Sub"], str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m[1], m[0]), n["Fn::Sub"])
            if set(n) == {"Ref"} and n["Ref"] in values:
                return values[n["Ref"]]
            return {k: walk(v) for k, v in n.items()}
        if isinstance(n, list):
            return [walk(x) for x in n]
        return n

    return walk(node)


def statements(cfn: dict[str, Any], parameters: dict[str, str]) -> list[dict[str, Any]]:
    """Every IAM statement granted to the function, resolved for ``parameters``."""
    role = function_resource(cfn, "ScoringFunctionRole")["Properties"]
    out = []
    for policy in resolved(cfn, role.get("Policies", []), parameters):
        out += policy["PolicyDocument"]["Statement"]
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- lint ----------------------------------------------------------------------------------------


def test_sam_template_has_no_lint_errors_or_warnings() -> None:
    problems = cfn_lint(TEMPLATE)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize(
    "parameters",
    [{}, {**S3_DEPLOY, "AuthMode": "IAM", "ProvisionedConcurrency": "2", "Architecture": "arm64"}],
    ids=["defaults", "s3-iam-provisioned-arm64"],
)
def test_translated_template_has_no_lint_errors_or_warnings(
    sam: dict[str, Any], parameters: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "template.json"
    out.write_text(json.dumps(translate(sam, parameters), indent=1))
    problems = cfn_lint(out)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize(
    "bad_ref",
    # ScoringApiStage looks like a SAM-generated name but is not one (the transform makes
    # ScoringApiApiGatewayDefaultStage); NoSuchThing is plainly undefined.
    ["ScoringApiStage", "NoSuchThing"],
)
def test_translated_lint_catches_an_undefined_ref(tmp_path: Path, bad_ref: str) -> None:
    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text()
    injected = f"  Stage:\n    Description: injected\n    Value: !Ref {bad_ref}\n"
    broken.write_text(text.replace("\nOutputs:\n", f"\nOutputs:\n{injected}", 1))
    assert broken.read_text() != text
    out = tmp_path / "template.json"
    out.write_text(json.dumps(translate(load_template(broken)), indent=1))
    errors = [p for p in cfn_lint(out) if p.severity == "error"]
    assert any(bad_ref in p.message for p in errors), [str(p) for p in errors]


# --- parameters ----------------------------------------------------------------------------------


def test_parameters_exist_with_defaults(sam: dict[str, Any]) -> None:
    params = sam["Parameters"]
    for name in PARAMETERS:
        assert name in params, name
        assert "Default" in params[name], f"{name} has no default"
    assert params["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    # NONE, IAM, JWT, APIKEY: tests/test_template_auth.py checks each (issue 13).
    assert params["AuthMode"]["AllowedValues"][:2] == ["NONE", "IAM"]
    assert params["ProvisionedConcurrency"]["Default"] == 0
    assert 128 <= params["MemorySize"]["Default"] <= 10240
    assert params["Timeout"]["MaxValue"] <= 30  # an HTTP API integration times out at 30 s


def test_model_key_cannot_widen_the_grant(sam: dict[str, Any]) -> None:
    pattern = sam["Parameters"]["ModelKey"]["AllowedPattern"]
    assert re.fullmatch(pattern, "fraudlite/model.onnx")
    for key in ("*", "fraudlite/*", "fraudlite/model?.onnx", ""):
        assert not re.fullmatch(pattern, key), key
    sha = sam["Parameters"]["ModelSha256"]["AllowedPattern"]
    assert re.fullmatch(sha, "") and re.fullmatch(sha, "0f" * 32)
    assert not re.fullmatch(sha, "0F" * 32) and not re.fullmatch(sha, "0f" * 31)


# --- IAM -----------------------------------------------------------------------------------------


def test_s3_grant_names_exactly_the_model_object(cfn: dict[str, Any]) -> None:
    granted = statements(cfn, S3_DEPLOY)
    s3 = [s for s in granted if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert len(s3) == 1, s3
    assert s3[0]["Effect"] == "Allow"
    assert as_list(s3[0]["Action"]) == ["s3:GetObject"]
    assert as_list(s3[0]["Resource"]) == ["arn:aws:s3:::fraud-models-123/fraudlite/v3/model.onnx"]
    assert "Condition" not in s3[0] and "NotResource" not in s3[0] and "NotAction" not in s3[0]


def test_no_statement_is_wider_than_it_needs(cfn: dict[str, Any]) -> None:
    role = function_resource(cfn, "ScoringFunctionRole")["Properties"]
    assert not role.get("ManagedPolicyArns"), "managed policies grant logs:* on every group"
    for statement in statements(cfn, S3_DEPLOY):
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement
        for resource in as_list(statement["Resource"]):
            assert resource != "*", statement
            assert "*" not in json.dumps(resource) or resource == {
                "Fn::GetAtt": ["ScoringLogGroup", "Arn"]
            }, statement
    logs = [s for s in statements(cfn, S3_DEPLOY) if as_list(s["Action"])[0].startswith("logs:")]
    assert logs == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["ScoringLogGroup", "Arn"]},
        }
    ]


def test_no_s3_access_without_a_bucket(cfn: dict[str, Any]) -> None:
    granted = statements(cfn, {})
    assert not [s for s in granted if "s3" in json.dumps(s)], granted


def test_role_is_for_lambda_only(cfn: dict[str, Any]) -> None:
    trust = function_resource(cfn, "ScoringFunctionRole")["Properties"]
    trust = trust["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


# --- function ------------------------------------------------------------------------------------


def test_function_is_the_image_built_from_the_dockerfile(sam: dict[str, Any]) -> None:
    function = sam["Resources"]["ScoringFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    assert function["Properties"]["PackageType"] == "Image"
    meta = function["Metadata"]
    context = TEMPLATE.parent / meta["DockerContext"]
    assert (context / meta["Dockerfile"]).is_file()
    assert meta["DockerTag"]
    assert function["Properties"]["Architectures"] == [{"Ref": "Architecture"}]
    assert function["Properties"]["MemorySize"] == {"Ref": "MemorySize"}
    assert function["Properties"]["Timeout"] == {"Ref": "Timeout"}


def test_environment_is_what_the_service_reads(cfn: dict[str, Any]) -> None:
    function = function_resource(cfn, "ScoringFunction")["Properties"]
    env = resolved(cfn, function["Environment"]["Variables"], S3_DEPLOY)
    assert env["FRAUD_MODEL_URI"] == "s3://fraud-models-123/fraudlite/v3/model.onnx"
    settings = Settings.from_env(env)
    assert settings.model_uri == "s3://fraud-models-123/fraudlite/v3/model.onnx"
    assert settings.model_sha256 == "ab" * 32
    # No bucket: the variable is left out, so the image's baked-model default applies.
    env = resolved(cfn, function["Environment"]["Variables"], {})
    assert "FRAUD_MODEL_URI" not in env
    assert Settings.from_env(env).model_sha256 is None


@pytest.mark.parametrize(("count", "expected"), [("0", None), ("3", "3")])
def test_provisioned_concurrency_only_when_asked(
    cfn: dict[str, Any], count: str, expected: str | None
) -> None:
    alias = one(cfn, "AWS::Lambda::Alias")["Properties"]
    config = resolved(cfn, alias, {"ProvisionedConcurrency": count}).get(
        "ProvisionedConcurrencyConfig"
    )
    assert config == (None if expected is None else {"ProvisionedConcurrentExecutions": expected})


def test_log_group_is_the_functions_with_retention(cfn: dict[str, Any]) -> None:
    group = function_resource(cfn, "ScoringLogGroup")["Properties"]
    function = function_resource(cfn, "ScoringFunction")["Properties"]
    name = resolved(cfn, function["FunctionName"], {})
    assert resolved(cfn, group["LogGroupName"], {}) == f"/aws/lambda/{name}"
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ScoringLogGroup"}


# --- API -----------------------------------------------------------------------------------------


def api_routes(cfn: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    body = one(cfn, "AWS::ApiGatewayV2::Api")["Properties"]["Body"]
    return {
        (method.upper(), path): operation
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }


def test_explicit_routes_and_no_catch_all(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    routes = api_routes(cfn)
    assert set(routes) == ROUTES
    events = sam["Resources"]["ScoringFunction"]["Properties"]["Events"].values()
    assert {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events} == ROUTES
    assert all(e["Type"] == "HttpApi" for e in events)
    for operation in routes.values():
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
        assert integration["payloadFormatVersion"] == "2.0"
        assert "ScoringFunctionAliaslive" in json.dumps(integration["uri"])
    text = json.dumps(cfn)
    assert "{proxy+}" not in text and "$default" not in {path for _, path in routes}
    assert "x-amazon-apigateway-any-method" not in text


def test_routes_exist_in_the_service() -> None:
    app = create_app(Settings(), ModelLoadFailure(reason="not needed to list routes"))
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    assert served >= ROUTES


def test_each_route_invokes_only_through_the_alias(cfn: dict[str, Any]) -> None:
    permissions = resources_of(cfn, "AWS::Lambda::Permission")
    # The APIKEY authorizer's own permission (issue 13) is checked in test_template_auth.py.
    permissions.pop("ApiKeyAuthorizerPermission", None)
    assert len(permissions) == len(ROUTES)
    arns = set()
    for permission in permissions.values():
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert props["FunctionName"] == {"Ref": "ScoringFunctionAliaslive"}
        arns.add(props["SourceArn"]["Fn::Sub"][0].rsplit("}/", 1)[1])
    # SAM writes a path variable ({model}) as * in the permission's source ARN.
    assert arns == {re.sub(r"\{[^}]+\}", "*", f"{method}{path}") for method, path in ROUTES}


def test_stage_throttling_comes_from_parameters(cfn: dict[str, Any]) -> None:
    stage = one(cfn, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ThrottleBurst"},
        "ThrottlingRateLimit": {"Ref": "ThrottleRate"},
    }


def test_auth_mode_iam_signs_every_route_and_none_signs_none(cfn: dict[str, Any]) -> None:
    api = one(cfn, "AWS::ApiGatewayV2::Api")["Properties"]["Body"]
    iam = resolved(cfn, api, {"AuthMode": "IAM"})
    open_ = resolved(cfn, api, {"AuthMode": "NONE"})
    scheme = iam["components"]["securitySchemes"]["AWS_IAM"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    for path, operations in iam["paths"].items():
        for method, operation in operations.items():
            if path == "/health":  # open in every mode (issue 13)
                assert "security" not in operation
                continue
            assert operation["security"] == [{"AWS_IAM": []}], (method, path)
    for path, operations in open_["paths"].items():
        for method, operation in operations.items():
            assert "security" not in operation, (method, path)


def test_outputs(sam: dict[str, Any]) -> None:
    outputs = sam["Outputs"]
    assert {"ApiUrl", "FunctionName", "FunctionArn"} <= set(outputs)
    assert "${ScoringApi}.execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert outputs["FunctionArn"]["Value"] == {"Fn::GetAtt": ["ScoringFunction", "Arn"]}


def test_samconfig_defaults_fit_the_template(sam: dict[str, Any]) -> None:
    import tomllib

    config = tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text())["default"]
    deploy = config["deploy"]["parameters"]
    # The template creates an unnamed IAM role and an image function: both need these.
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_image_repos"] is True
    assert config["global"]["parameters"]["stack_name"]
    # Overrides, if any, name real parameters.
    for pair in deploy.get("parameter_overrides", "").split():
        assert pair.split("=", 1)[0] in sam["Parameters"], pair
