"""Inbound authentication for /mcp chosen from settings: a shared bearer token or JWTs."""

from __future__ import annotations

import hmac

from fastmcp.server.auth import AccessToken, AuthProvider, TokenVerifier
from fastmcp.server.auth.providers.jwt import JWTVerifier

from mcp_runtime.settings import RuntimeSettings


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
        )
    return None
