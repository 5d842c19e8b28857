"""An API Gateway HTTP API (payload format 2.0) event and a Lambda context, as Lambda passes them.

Standard library only: the cold-start probe imports this before timing the entry module.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def http_api_v2_event(body: dict[str, Any], path: str = "/predict") -> dict[str, Any]:
    """A POST of ``body`` as JSON, in AWS's documented HTTP API payload 2.0 layout."""
    now = time.time()
    request_id = uuid.uuid4().hex[:16]
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "content-type": "application/json",
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "fraudlite-bench",
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "fraudlite-bench",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class LambdaContext:
    """The attributes of Lambda's context object that handlers commonly read."""

    function_name = "fraudlite-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fraudlite-bench"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/fraudlite-bench"
    log_stream_name = "local"

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)
