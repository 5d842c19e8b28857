"""How clients authenticate to a fraudlite deployment, one place for every client (issue 13).

The Streamlit client (client/api.py), the Locust file (benchmarks/locustfile.py) and
scripts/demo_request.py take the same modes, matching template.yaml's ``AuthMode`` and
``fraud-serve``'s API keys:

- ``none``: nothing added;
- ``iam``: SigV4-signed requests for API Gateway (``execute-api``), signed with botocore's own
  signer and the usual AWS credential chain (environment, profile, SSO, instance role);
- ``jwt``: ``Authorization: Bearer <token>`` (a Cognito or other OIDC access/ID token);
- ``apikey``: ``X-API-Key: <key>`` (the APIKEY authorizer, or fraud-serve's
  FRAUD_API_KEYS_SHA256).

Settings come from the environment (``FRAUD_API_AUTH``, ``FRAUD_API_TOKEN``, ``FRAUD_API_KEY``,
``FRAUD_API_REGION``) or from the caller. Secrets are never part of ``repr`` or error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

Mode = Literal["none", "iam", "jwt", "apikey"]
MODES: Final[tuple[Mode, ...]] = ("none", "iam", "jwt", "apikey")
API_KEY_HEADER: Final = "X-API-Key"
#: API Gateway's signing name for invoking an API (execute-api:Invoke).
SIGNING_SERVICE: Final = "execute-api"


class AuthConfigError(ValueError):
    """An authentication setting is missing or unusable; names the setting, never its value."""


@dataclass(frozen=True)
class ApiAuth:
    """One way of authenticating; :meth:`headers` gives the headers to add to a request."""

    mode: Mode = "none"
    #: JWT bearer token (mode ``jwt``) or API key (mode ``apikey``); hidden from repr.
    secret: str | None = field(default=None, repr=False)
    #: AWS region of the API (mode ``iam``); None: from the AWS configuration.
    region: str | None = None
    #: botocore credentials (mode ``iam``); None: resolved by botocore's credential chain.
    credentials: Any = field(default=None, repr=False)
    service: str = SIGNING_SERVICE

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise AuthConfigError(f"FRAUD_API_AUTH: expected one of {', '.join(MODES)}")
        if self.mode == "jwt" and not self.secret:
            raise AuthConfigError("FRAUD_API_TOKEN: a bearer token is needed for jwt")
        if self.mode == "apikey" and not self.secret:
            raise AuthConfigError("FRAUD_API_KEY: an API key is needed for apikey")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiAuth:
        """From FRAUD_API_AUTH (none|iam|jwt|apikey), FRAUD_API_TOKEN, FRAUD_API_KEY and
        FRAUD_API_REGION (else AWS_REGION / AWS_DEFAULT_REGION)."""
        mode = (environ.get("FRAUD_API_AUTH", "").strip().lower() or "none").replace("-", "")
        if mode not in MODES:
            raise AuthConfigError(f"FRAUD_API_AUTH: expected one of {', '.join(MODES)}")
        secret = {
            "jwt": environ.get("FRAUD_API_TOKEN", "").strip(),
            "apikey": environ.get("FRAUD_API_KEY", "").strip(),
        }.get(mode)
        region = (
            environ.get("FRAUD_API_REGION")
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
            or None
        )
        return cls(mode=mode, secret=secret or None, region=region)  # type: ignore[arg-type]

    def headers(
        self, method: str, url: str, body: bytes = b"", content_type: str | None = None
    ) -> dict[str, str]:
        """Headers that authenticate ``method url`` with ``body`` (sent exactly as given)."""
        if self.mode == "jwt":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.mode == "apikey":
            return {API_KEY_HEADER: str(self.secret)}
        if self.mode == "iam":
            return sigv4_headers(
                method, url, body, content_type, self._credentials(), self._region(), self.service
            )
        return {}

    def _credentials(self) -> Any:
        if self.credentials is not None:
            return self.credentials
        import botocore.session  # only IAM signing needs botocore

        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise AuthConfigError("iam: no AWS credentials found (environment, profile or role)")
        # Frozen per request: refreshable (SSO, role) credentials stay valid across calls.
        return credentials.get_frozen_credentials()

    def _region(self) -> str:
        if self.region:
            return self.region
        import botocore.session

        region = botocore.session.get_session().get_config_variable("region")
        if not region:
            raise AuthConfigError("FRAUD_API_REGION: the API's AWS region is needed for iam")
        return str(region)


def sigv4_headers(
    method: str,
    url: str,
    body: bytes,
    content_type: str | None,
    credentials: Any,
    region: str,
    service: str = SIGNING_SERVICE,
) -> dict[str, str]:
    """``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token``) from botocore's SigV4
    signer, over the host, the content type (when there is a body) and the body's hash."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    signed = {"host": urlsplit(url).netloc}
    if content_type:
        signed["content-type"] = content_type
    request = AWSRequest(method=method.upper(), url=url, data=body or None, headers=signed)
    SigV4Auth(credentials, service, region).add_auth(request)
    wanted = ("authorization", "x-amz-date", "x-amz-security-token")
    return {name: value for name, value in request.headers.items() if name.lower() in wanted}


def httpx_auth(auth: ApiAuth) -> Any:
    """An ``httpx.Auth`` adding :meth:`ApiAuth.headers` to every request (body included)."""
    import httpx

    class _Auth(httpx.Auth):
        requires_request_body = True

        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers.update(
                auth.headers(
                    request.method,
                    str(request.url),
                    request.content,
                    request.headers.get("content-type"),
                )
            )
            yield request

    return _Auth()
