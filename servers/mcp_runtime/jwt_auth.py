"""FastMCP's JWT verifier, also refusing tokens that are not valid now (see auth.py).

Its own module because FastMCP's verifier loads a JOSE library, cryptography and an HTTP
client (for JWKS): only a server with MCP_JWT_* settings imports it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import structlog
from fastmcp.server.auth import AccessToken, RemoteAuthProvider
from fastmcp.server.auth.providers.jwt import JWTVerifier
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry
from mcp.server.auth.routes import build_resource_metadata_url, cors_middleware
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_runtime.auth import (
    BAD_IAT,
    BAD_NBF,
    ISSUED_LATER,
    NO_EXPIRY,
    NOT_YET_VALID,
    clear_refusal,
    refuse_for,
)
from mcp_runtime.internals import jwt_nbf_skew_seconds, jwt_verification_key
from mcp_runtime.settings import MCP_PATH

# RFC 9728 section 3.1 puts the metadata at this prefix plus the resource's path; clients
# written against the 2025-03-26 specification look at the bare prefix only.
METADATA_PREFIX = "/.well-known/oauth-protected-resource"

_log = structlog.get_logger("mcp_runtime.auth")


class CurrentJWTVerifier(JWTVerifier):
    """FastMCP's JWTVerifier, also refusing tokens that are not yet valid (`nbf` more than
    `leeway_seconds` ahead), issued in the future (`iat` as far ahead) or never expire (no
    `exp`, unless `allow_no_exp`).

    FastMCP (since 4.2.3) refuses an `nbf` more than its own fixed skew ahead, or not a
    number, itself and says nothing about why; `nbf` gets the smaller of the two leeways,
    and such a refusal of a token our issuer signed gets its reason here too."""

    def __init__(self, *, leeway_seconds: float, allow_no_exp: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._leeway = leeway_seconds
        self._fastmcp_nbf_skew = jwt_nbf_skew_seconds()
        self._nbf_leeway = min(leeway_seconds, self._fastmcp_nbf_skew)
        self._allow_no_exp = allow_no_exp

    async def verify_token(self, token: str) -> AccessToken | None:
        clear_refusal()
        # Signature, issuer, audience and a passed `exp` first: a reason is only ever
        # given for a token this server's issuer really signed.
        access = await super().verify_token(token)
        if access is not None:
            claims, reason = access.claims, self._time_problem(access.claims)
            if reason is None:
                return access
        else:
            claims = await self._signed_claims(token)
            reason = None if claims is None else self._refused_nbf(claims)
            if reason is None:
                return None
        refuse_for(token, reason)
        # Named as FastMCP's verifier names the client in its own log records.
        client_id = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        _log.info("token_rejected", client_id=str(client_id or "unknown"), reason=reason)
        return None

    async def _signed_claims(self, token: str) -> dict[str, Any] | None:
        """`token`'s claims if our issuer signed it (FastMCP's key lookup and decode)."""
        try:
            claims = jwt.decode(
                token,
                await jwt_verification_key(self, token),
                algorithms=[self.algorithm],
                registry=JWSRegistry(algorithms=[self.algorithm], strict_check_header=False),
            ).claims
        except (JoseError, ValueError, TypeError, KeyError):
            return None
        return claims

    def _refused_nbf(self, claims: dict[str, Any]) -> str | None:
        """Why FastMCP refused a token with these signed `claims`, if for its `nbf`: it checks
        `exp` first, and issuer, audience and scopes only once `nbf` holds."""
        exp = claims.get("exp")
        if exp is not None and (not _is_time(exp) or exp < time.time()):
            return None
        return self._claim_problem(claims, "nbf", BAD_NBF, NOT_YET_VALID, self._fastmcp_nbf_skew)

    def _time_problem(self, claims: dict[str, Any]) -> str | None:
        # No issuer signs tokens in the future: an `iat` ahead is a wrong clock or a forgery
        # (RFC 7519 leaves the use of `iat` to the verifier).
        reason = self._claim_problem(
            claims, "nbf", BAD_NBF, NOT_YET_VALID, self._nbf_leeway
        ) or self._claim_problem(claims, "iat", BAD_IAT, ISSUED_LATER, self._leeway)
        if reason is None and claims.get("exp") is None and not self._allow_no_exp:
            return NO_EXPIRY
        return reason

    @staticmethod
    def _claim_problem(
        claims: dict[str, Any], claim: str, bad: str, later: str, leeway: float
    ) -> str | None:
        value = claims.get(claim)
        if value is None:
            return None
        if not _is_time(value):
            return bad
        if value > time.time() + leeway:
            return later
        return None


def _is_time(value: object) -> bool:
    """Whether `value` is a JSON number (RFC 7519's NumericDate), which a bool is not."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class ResourceServer(RemoteAuthProvider):
    """An OAuth 2.1 resource server as MCP's authorization specification describes it.

    Tokens are checked by `verifier` (issuer, audience, signature, times). Scopes every
    request needs are checked after that by FastMCP's RequireAuth, which answers a token
    without them with 403 `insufficient_scope` naming them, so a client can step up rather
    than start over as it would on a 401. Once the server knows its own URL
    (`resource_url`), it publishes RFC 9728 metadata naming `issuer` as its authorization
    server, and every 401 points at it (`resource_metadata=`).
    """

    def __init__(
        self,
        verifier: JWTVerifier,
        *,
        resource_url: str | None,
        issuer: str | None,
        required_scopes: Sequence[str],
        scopes_supported: Sequence[str],
    ) -> None:
        super().__init__(
            token_verifier=verifier,
            authorization_servers=[AnyHttpUrl(issuer)] if issuer else [],
            base_url=resource_url.removesuffix(MCP_PATH) if resource_url else None,  # type: ignore[arg-type]
            scopes_supported=list(dict.fromkeys(scopes_supported)),
            # A 401 tells a client which scopes to ask the authorization server for.
            challenge_scopes=list(required_scopes),
        )
        self.required_scopes = list(required_scopes)
        self._issuer = issuer

    def get_routes(self, mcp_path: str | None = None) -> list[Route]:
        """The metadata document at RFC 9728's location for the resource and at the bare
        prefix. Written here rather than by the SDK's model, which would turn an issuer
        without a path into one ending in "/": clients compare issuers character by
        character (RFC 8414 section 3.3), so the document names it exactly as configured."""
        self.set_mcp_path(mcp_path)
        resource = self._get_resource_url(mcp_path)
        if resource is None:
            return []
        document = {
            "resource": str(resource),
            "authorization_servers": [] if self._issuer is None else [self._issuer],
            "scopes_supported": self.scopes_supported,
            "bearer_methods_supported": ["header"],
        }

        async def metadata(_: Request) -> Response:
            return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

        endpoint = cors_middleware(metadata, ["GET", "OPTIONS"])
        located = urlparse(str(build_resource_metadata_url(resource))).path
        return [
            Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"])
            for path in dict.fromkeys((located, METADATA_PREFIX))
        ]
