"""template.yaml's authentication and model-identity parts (issue 13).

For every AuthMode the SAM file goes through aws-sam-translator and the result through cfn-lint;
then what CloudFormation would deploy is checked: every route but /health requires the mode's
authorizer, the JWT authorizer carries the issuer and audience, the APIKEY authorizer is a
cached REQUEST authorizer on x-api-key whose role reads only its one SSM parameter, and the Rule
that makes ModelSha256 mandatory with ModelBucket (and JWT settings with AuthMode=JWT).
"""

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

MODES: dict[str, dict[str, str]] = {
    "NONE": {},
    "IAM": {"AuthMode": "IAM"},
    "JWT": {
        "AuthMode": "JWT",
        "JwtIssuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123",
        "JwtAudience": "client-one,client-two",
    },
    "APIKEY": {"AuthMode": "APIKEY", "ApiKeysParameterName": "/fraudlite/prod/api-key-sha256"},
}
SCHEME = {"IAM": "AWS_IAM", "JWT": "JwtAuth", "APIKEY": "ApiKeyAuth"}
AUTHORIZER_RESOURCES = {
    "ApiKeyAuthorizerFunction",
    "ApiKeyAuthorizerRole",
    "ApiKeyAuthorizerLogGroup",
    "ApiKeyAuthorizerPermission",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def deployed(cfn: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The resources CloudFormation would create for ``parameters`` (conditions applied)."""
    conditions = resolve_conditions(cfn, parameters)
    kept = {
        name: resource
        for name, resource in cfn["Resources"].items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    return apply_conditions(kept, conditions)


def api_body(cfn: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    (api,) = [
        r for r in deployed(cfn, parameters).values() if r["Type"] == "AWS::ApiGatewayV2::Api"
    ]
    return api["Properties"]["Body"]


# NONE and IAM are linted by tests/test_template.py (defaults, and IAM with S3); cfn-lint is slow.
@pytest.mark.parametrize("mode", ["JWT", "APIKEY"])
def test_translated_template_lints_clean_in_every_mode(
    sam: dict[str, Any], mode: str, tmp_path: Path
) -> None:
    out = tmp_path / "template.json"
    out.write_text(json.dumps(translate(sam, MODES[mode]), indent=1))
    problems = cfn_lint(out)
    assert not problems, "\n".join(map(str, problems))


def test_sam_file_lints_clean() -> None:
    problems = cfn_lint(TEMPLATE)
    assert not problems, "\n".join(map(str, problems))


def test_auth_modes_are_the_four(sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["AuthMode"]["AllowedValues"] == ["NONE", "IAM", "JWT", "APIKEY"]
    assert sam["Parameters"]["AuthMode"]["Default"] == "NONE"


@pytest.mark.parametrize("mode", ["IAM", "JWT", "APIKEY"])
def test_every_route_but_health_requires_the_mode(cfn: dict[str, Any], mode: str) -> None:
    body = api_body(cfn, MODES[mode])
    routes = [(p, m, op) for p, ops in body["paths"].items() for m, op in ops.items()]
    assert len(routes) >= 14
    for path, method, operation in routes:
        if path == "/health":
            assert "security" not in operation, "health must stay open"
        else:
            assert operation["security"] == [{SCHEME[mode]: []}], (method, path)
    assert set(body["components"]["securitySchemes"]) == {"AWS_IAM", SCHEME[mode]}


def test_no_mode_means_no_security(cfn: dict[str, Any]) -> None:
    body = api_body(cfn, {})
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            assert "security" not in operation, (method, path)
    assert not AUTHORIZER_RESOURCES & set(deployed(cfn, {}))


def test_jwt_authorizer_has_issuer_and_audience(cfn: dict[str, Any]) -> None:
    body = api_body(cfn, MODES["JWT"])
    scheme = body["components"]["securitySchemes"]["JwtAuth"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "oauth2" and authorizer["type"] == "jwt"
    assert authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["jwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": {"Ref": "JwtAudience"},
    }
    assert not AUTHORIZER_RESOURCES & set(deployed(cfn, MODES["JWT"]))


def test_apikey_authorizer_is_a_cached_request_authorizer(cfn: dict[str, Any]) -> None:
    body = api_body(cfn, MODES["APIKEY"])
    scheme = body["components"]["securitySchemes"]["ApiKeyAuth"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert (scheme["type"], scheme["name"], scheme["in"]) == ("apiKey", "x-api-key", "header")
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "$request.header.x-api-key"  # the cache key
    assert authorizer["authorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["enableSimpleResponses"] is True
    assert authorizer["authorizerResultTtlInSeconds"] == {"Ref": "AuthorizerCacheSeconds"}
    assert "${ApiKeyAuthorizerFunction.Arn}" in authorizer["authorizerUri"]["Fn::Sub"]


def test_apikey_authorizer_function_role_and_permission(cfn: dict[str, Any]) -> None:
    resources = deployed(cfn, MODES["APIKEY"])
    assert set(resources) >= AUTHORIZER_RESOURCES
    function = resources["ApiKeyAuthorizerFunction"]["Properties"]
    assert function["ImageConfig"]["Command"] == ["service.aws.authorizer.handler"]
    variables = function["Environment"]["Variables"]
    assert variables["FRAUD_API_KEYS_PARAMETER"] == {"Ref": "ApiKeysParameterName"}
    statements = [
        s
        for policy in resources["ApiKeyAuthorizerRole"]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    actions = sorted(
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter"]
    (ssm,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    arn = ssm["Resource"]["Fn::Sub"]
    assert arn.endswith(":parameter${ApiKeysParameterName}") and "*" not in arn
    permission = resources["ApiKeyAuthorizerPermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith("${ScoringApi}/authorizers/*")


def test_parameter_name_cannot_widen_the_grant(sam: dict[str, Any]) -> None:
    import re

    pattern = re.compile(sam["Parameters"]["ApiKeysParameterName"]["AllowedPattern"])
    assert pattern.match("/fraudlite/prod/api-key-sha256")
    for bad in ("/fraudlite/*", "fraudlite", "/a b", "/x?", ""):
        assert not pattern.match(bad), bad


def _rule_holds(rule: dict[str, Any], values: dict[str, str], sam: dict[str, Any]) -> bool:
    """Evaluate a Rule for parameter ``values``: True when it passes (or does not apply)."""
    defaults = {n: str(p.get("Default", "")) for n, p in sam["Parameters"].items()}
    env = {**defaults, **values}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return env[node["Ref"]]
        if isinstance(node, dict) and "Fn::Join" in node:
            sep, parts = node["Fn::Join"]
            items = value(parts)
            return sep.join(items.split(",") if isinstance(items, str) else items)
        return node

    def truth(node: Any) -> bool:
        (fn, arg), *_ = node.items()
        if fn == "Fn::Equals":
            return str(value(arg[0])) == str(value(arg[1]))
        if fn == "Fn::Not":
            return not truth(arg[0])
        raise ValueError(fn)

    if "RuleCondition" in rule and not truth(rule["RuleCondition"]):
        return True
    return all(truth(a["Assert"]) for a in rule["Assertions"])


def test_model_sha256_is_required_with_a_bucket(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    rule = sam["Rules"]["ModelSha256WithBucket"]
    assert cfn["Rules"]["ModelSha256WithBucket"] == rule  # kept by the transform
    assert _rule_holds(rule, {}, sam)  # baked-in model: nothing to pin
    assert not _rule_holds(rule, {"ModelBucket": "fraud-models-1"}, sam)
    assert _rule_holds(rule, {"ModelBucket": "fraud-models-1", "ModelSha256": "ab" * 32}, sam)


def test_jwt_needs_issuer_and_audience(sam: dict[str, Any]) -> None:
    rule = sam["Rules"]["JwtNeedsIssuerAndAudience"]
    assert _rule_holds(rule, {"AuthMode": "NONE"}, sam)
    assert not _rule_holds(rule, {"AuthMode": "JWT"}, sam)
    assert not _rule_holds(rule, {"AuthMode": "JWT", "JwtIssuer": "https://issuer"}, sam)
    assert _rule_holds(rule, MODES["JWT"], sam)
