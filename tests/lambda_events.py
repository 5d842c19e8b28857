"""API Gateway events and a Lambda context, written from AWS's documented formats, for tests.

HTTP API payload format 2.0 and REST API proxy integration payload 1.0, as API Gateway sends
them to a Lambda function; the context carries the attributes Mangum and the app read.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeLambdaContext:
    """The attributes of the Python runtime's context object that Mangum and the app read."""

    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    function_name: str = "fraudlite"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:fraudlite"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/fraudlite"
    log_stream_name: str = "2024/01/01/[$LATEST]abcdef"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 3000


def http_api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    stage: str = "$default",
    b64: bool = False,
    raw_body: str | None = None,
    route_key: str = "$default",
) -> dict[str, Any]:
    """HTTP API payload format 2.0; a named stage prefixes the path.

    ``raw_body`` is sent as is (e.g. malformed JSON); ``route_key`` is ``$default`` for a
    catch-all integration or ``"POST /predict"`` for an explicit route, as template.yaml has.
    """
    full_path = path if stage == "$default" else f"/{stage}{path}"
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    headers = {
        "accept": "*/*",
        "content-length": str(len(text or "")),
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
        "x-forwarded-for": "192.0.2.1",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": full_path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": full_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route_key,
            "stage": stage,
            "time": "12/Mar/2024:19:03:58 +0000",
            "timeEpoch": 1710270238390,
        },
        "isBase64Encoded": b64,
    }
    if text is not None:
        event["body"] = base64.b64encode(text.encode()).decode() if b64 else text
    return event


def rest_api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    stage: str = "prod",
    mapped_path: str | None = None,
    b64: bool = False,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """REST API proxy integration input (payload 1.0) for ``ANY /{proxy+}``.

    ``mapped_path`` is the top-level ``path`` behind a custom domain base path mapping;
    otherwise the request came through the execute-api domain and ``path`` has no stage.
    """
    text = None if body is None else json.dumps(body)
    headers = {
        "Accept": "*/*",
        "Content-Type": content_type,
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "python-requests/2.31.0",
        "X-Amzn-Trace-Id": "Root=1-65f0c1de-2d3c4b5a6978",
        "X-Forwarded-For": "192.0.2.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    event: dict[str, Any] = {
        "resource": "/{proxy+}",
        "path": mapped_path or path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "UQ2kSFzvoAMFWYQ=",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "sourceIp": "192.0.2.1",
                "user": None,
                "userAgent": "python-requests/2.31.0",
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": "e8a7d4c5-1f2b-4a3c-9d8e-7f6a5b4c3d2e",
            "requestTime": "12/Mar/2024:19:03:58 +0000",
            "requestTimeEpoch": 1710270238390,
            "resourceId": "xyz789",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": None,
        "isBase64Encoded": b64,
    }
    if text is not None:
        event["body"] = base64.b64encode(text.encode()).decode() if b64 else text
    return event
