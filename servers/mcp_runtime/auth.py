"""Inbound authentication for /mcp, and for a server's own routes that carry the same
data, chosen from settings: a shared bearer token or JWTs.

A JWT must also be valid now: FastMCP's verifier checks that `exp` has not passed, but lets
a token without `exp` live forever, and takes one whose `nbf` is still ahead. Such tokens
get 401 with RFC 6750's `error_description` saying which claim is wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from fastmcp.server.auth import AccessToken, AuthProvider, TokenVerifier
from fastmcp.server.auth.middleware import RequireAuthMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.datastructures import Headers, URLPath
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from mcp_runtime.settings import JWT_ALGORITHM, RuntimeSettings

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcp_runtime.tool_grants import ToolAuthorization

NOT_YET_VALID = "token is not valid yet (nbf)"
NO_EXPIRY = "token has no expiry time (exp)"
BAD_NBF = "token's not-before time (nbf) is not a number"
ISSUED_LATER = "token is issued in the future (iat)"
BAD_IAT = "token's issued-at time (iat) is not a number"

# The last token the runtime's verifier refused in this task, and why. Verifying and
# answering happen in different layers (FastMCP's auth backend, then its RequireAuth
# middleware), and the verifier's interface has no room for a reason.
_rejected: ContextVar[tuple[str, str] | None] = ContextVar("mcp_runtime_rejected", default=None)


def refuse_for(token: str, reason: str) -> None:
    """Record that the runtime's verifier refused `token` for `reason`, which the 401 gives."""
    _rejected.set((token, reason))


def clear_refusal() -> None:
    _rejected.set(None)


def rejection_reason(token: str) -> str | None:
    """Why the runtime's JWT verifier just refused `token`, if it did for a reason it names."""
    rejected = _rejected.get()
    if rejected is None or not hmac.compare_digest(rejected[0].encode(), token.encode()):
        return None
    return rejected[1]


class SharedTokenVerifier(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id="shared-token", scopes=[])


def verifier_from_settings(
    settings: RuntimeSettings, grant_names: Sequence[str] = ()
) -> AuthProvider | None:
    """The verifier the settings ask for, or None when /mcp is open. `grant_names` are
    scopes the tool grants know, advertised in the protected-resource metadata."""
    if settings.mcp_auth_token is not None:
        return SharedTokenVerifier(settings.mcp_auth_token.get_secret_value())
    if settings.jwt_enabled:
        # Imported here: FastMCP's JWT verifier loads a JOSE library and an HTTP client,
        # which a server without JWT auth has no use for.
        from mcp_runtime.jwt_auth import CurrentJWTVerifier, ResourceServer

        verifier = CurrentJWTVerifier(
            leeway_seconds=settings.mcp_jwt_leeway_seconds,
            allow_no_exp=settings.mcp_jwt_allow_no_exp,
            public_key=settings.mcp_jwt_public_key,
            jwks_uri=settings.mcp_jwt_jwks_uri,
            issuer=settings.mcp_jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=JWT_ALGORITHM,
            jwks_refresh_interval=settings.mcp_jwt_jwks_refresh_seconds,
        )
        return ResourceServer(
            verifier,
            resource_url=settings.mcp_resource_url,
            issuer=settings.mcp_jwt_issuer,
            required_scopes=settings.mcp_jwt_required_scopes,
            scopes_supported=[*settings.mcp_jwt_required_scopes, *grant_names],
        )
    return None


def invalid_token_challenge(reason: str, *extra: str) -> str:
    """The WWW-Authenticate value for a refused token (RFC 6750 section 3)."""
    return ", ".join([f'Bearer error="invalid_token", error_description="{reason}"', *extra])


class ExplainingRequireAuth(RequireAuthMiddleware):
    """FastMCP's RequireAuth for /mcp, whose 401 says why when the runtime's verifier
    refused the token for a reason it names; FastMCP's own answer otherwise."""

    @classmethod
    def replacing(cls, original: RequireAuthMiddleware, app: Any) -> ExplainingRequireAuth:
        """The same checks as `original`, in front of `app`."""
        return cls(
            app,
            original.required_scopes,
            original.resource_metadata_url,
            original.challenge_scopes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not isinstance(scope.get("user"), AuthenticatedUser):
            # The token as the SDK's bearer backend took it from the header.
            header = Headers(scope=scope).get("authorization", "")
            reason = rejection_reason(header[7:]) if header[:7].lower() == "bearer " else None
            if reason is not None:
                response = JSONResponse(
                    {"error": "invalid_token", "error_description": reason},
                    status_code=401,
                    headers={
                        "WWW-Authenticate": invalid_token_challenge(
                            reason, *self._challenge_context()
                        )
                    },
                )
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class BearerProtected(BaseRoute):
    """HTTP `route` served only to requests with a bearer token `verifier` accepts, else 401.

    With tool grants, a route named after one of `mcp`'s tools (todo's `POST /tasks` is
    `create_task`) does that tool's work: it is served only to tokens whose grants open
    the tool, as a call of the tool on /mcp is, else 403."""

    def __init__(
        self,
        route: BaseRoute,
        verifier: AuthProvider,
        mcp: FastMCP | None = None,
        authorization: ToolAuthorization | None = None,
    ) -> None:
        self._route = route
        self._verifier = verifier
        self._mcp = mcp
        self._authorization = authorization

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._route.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self._route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            await _refused(None)(scope, receive, send)
        elif (access := await self._verifier.verify_token(token)) is None:
            await _refused(rejection_reason(token))(scope, receive, send)
        elif missing := _missing_scopes(access, self._verifier.required_scopes):
            # MCP_JWT_REQUIRED_SCOPES hold for these routes as for /mcp, which answers 403.
            await _insufficient_scope(missing)(scope, receive, send)
        elif (refusal := await self._not_granted(access)) is not None:
            await refusal(scope, receive, send)
        else:
            await self._route.handle(scope, receive, send)

    async def _not_granted(self, access: AccessToken) -> Response | None:
        """The 403 for a token whose grants do not open the tool this route is named after."""
        name = getattr(self._route, "name", None)
        if self._mcp is None or self._authorization is None or not isinstance(name, str):
            return None
        tool = await self._mcp.get_tool(name)
        if tool is None:
            return None
        allowed, opening = self._authorization.decide(tool, access)
        self._authorization.record(tool, access, "call", allowed=allowed)
        if allowed:
            return None
        challenge = 'Bearer error="insufficient_scope"'
        if opening and self._authorization.grants.claim == "scope":
            # A scope that opens it, as the step-up on /mcp names (scope_step_up.py).
            scopes = " ".join(dict.fromkeys([*self._verifier.required_scopes, opening[0]]))
            challenge += f', scope="{scopes}"'
        return JSONResponse(
            {
                "error": f"authorization: tool {tool.name!r} needs"
                f" {self._authorization.needs(opening)}"
            },
            status_code=403,
            headers={"WWW-Authenticate": challenge},
        )


def _missing_scopes(access: AccessToken, required: Sequence[str]) -> list[str]:
    return [scope for scope in required if scope not in access.scopes]


def _insufficient_scope(missing: Sequence[str]) -> Response:
    scopes = " ".join(missing)
    return JSONResponse(
        {"error": f"authorization: the token lacks the required scope {scopes}"},
        status_code=403,
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scopes}"'},
    )


def _refused(reason: str | None) -> Response:
    if reason is None:
        return JSONResponse(
            {"error": "authorization: a valid bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return JSONResponse(
        {"error": f"authorization: {reason}"},
        status_code=401,
        headers={"WWW-Authenticate": invalid_token_challenge(reason)},
    )
