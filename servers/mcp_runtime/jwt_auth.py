"""FastMCP's JWT verifier, also refusing tokens that are not valid now (see auth.py).

Its own module because FastMCP's verifier loads a JOSE library, cryptography and an HTTP
client (for JWKS): only a server with MCP_JWT_* settings imports it.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastmcp.server.auth import AccessToken
from fastmcp.server.auth.providers.jwt import JWTVerifier

from mcp_runtime.auth import BAD_NBF, NO_EXPIRY, NOT_YET_VALID, clear_refusal, refuse_for

_log = structlog.get_logger("mcp_runtime.auth")


class CurrentJWTVerifier(JWTVerifier):
    """FastMCP's JWTVerifier, also refusing tokens that are not yet valid (`nbf` more than
    `leeway_seconds` ahead) or never expire (no `exp`, unless `allow_no_exp`)."""

    def __init__(self, *, leeway_seconds: float, allow_no_exp: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._leeway = leeway_seconds
        self._allow_no_exp = allow_no_exp

    async def verify_token(self, token: str) -> AccessToken | None:
        clear_refusal()
        # Signature, issuer, audience and a passed `exp` first: a reason is only ever
        # given for a token this server's issuer really signed.
        access = await super().verify_token(token)
        if access is None:
            return None
        reason = self._time_problem(access.claims)
        if reason is None:
            return access
        refuse_for(token, reason)
        _log.info("token_rejected", client_id=access.client_id, reason=reason)
        return None

    def _time_problem(self, claims: dict[str, Any]) -> str | None:
        nbf = claims.get("nbf")
        if nbf is not None:
            if not isinstance(nbf, int | float) or isinstance(nbf, bool):
                return BAD_NBF
            if nbf > time.time() + self._leeway:
                return NOT_YET_VALID
        if claims.get("exp") is None and not self._allow_no_exp:
            return NO_EXPIRY
        return None
