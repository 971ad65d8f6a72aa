"""Inbound authentication for /mcp, and for a server's own routes that carry the same
data, chosen from settings: a shared bearer token or JWTs."""

from __future__ import annotations

import hmac
from typing import Any

from fastmcp.server.auth import AccessToken, AuthProvider, TokenVerifier
from fastmcp.server.auth.providers.jwt import JWTVerifier
from starlette.datastructures import Headers, URLPath
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from mcp_runtime.settings import JWT_ALGORITHM, RuntimeSettings


class SharedTokenVerifier(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token=token, client_id="shared-token", scopes=[])


def verifier_from_settings(settings: RuntimeSettings) -> AuthProvider | None:
    """The verifier the settings ask for, or None when /mcp is open."""
    if settings.mcp_auth_token is not None:
        return SharedTokenVerifier(settings.mcp_auth_token.get_secret_value())
    if settings.jwt_enabled:
        return JWTVerifier(
            public_key=settings.mcp_jwt_public_key,
            jwks_uri=settings.mcp_jwt_jwks_uri,
            issuer=settings.mcp_jwt_issuer,
            audience=settings.mcp_jwt_audience,
            algorithm=JWT_ALGORITHM,
        )
    return None


class BearerProtected(BaseRoute):
    """HTTP `route` served only to requests with a bearer token `verifier` accepts, else 401."""

    def __init__(self, route: BaseRoute, verifier: AuthProvider) -> None:
        self._route = route
        self._verifier = verifier

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._route.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self._route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or await self._verifier.verify_token(token.strip()) is None:
            response = JSONResponse(
                {"error": "authorization: a valid bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self._route.handle(scope, receive, send)
