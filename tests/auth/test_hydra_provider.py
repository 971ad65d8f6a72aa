"""The harness's OpenID provider is a real one: Ory Hydra's discovery, JWKS and tokens, with
every token's signature checked against the published keys."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from harness.hydra import Hydra, TokenRefused
from joserfc import jwt
from joserfc.jwk import KeySet

AUDIENCE = "https://mcp.test/todo"
SCOPES = ["tools:read", "tools:call"]


def verified(hydra: Hydra, token: str) -> jwt.Token:
    """The token, its RS256 signature checked with the JWKS key its `kid` names."""
    return jwt.decode(token, KeySet.import_key_set(hydra.jwks()), algorithms=["RS256"])


def jwks_kids(hydra: Hydra) -> set[str]:
    return {key["kid"] for key in hydra.jwks()["keys"]}


def assert_valid_claims(hydra: Hydra, claims: dict[str, Any]) -> None:
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": hydra.issuer},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        nbf={"essential": True},
        iat={"essential": True},
    ).validate(claims)


def assert_lifetime(claims: dict[str, Any], ttl: timedelta) -> None:
    # Hydra counts `exp` from the start of the token request and `iat` from its signing, each
    # truncated to the second: on a busy machine the difference falls short of the TTL.
    assert ttl.total_seconds() - 5 <= claims["exp"] - claims["iat"] <= ttl.total_seconds()


def test_discovery_names_the_issuer_and_its_endpoints(hydra: Hydra) -> None:
    discovery = hydra.discovery()

    assert discovery["issuer"] == hydra.issuer
    assert discovery["jwks_uri"] == hydra.jwks_uri
    assert discovery["token_endpoint"] == hydra.token_endpoint
    assert discovery["authorization_endpoint"] == hydra.authorization_endpoint
    assert {"client_credentials", "authorization_code"} <= set(discovery["grant_types_supported"])
    assert "S256" in discovery["code_challenge_methods_supported"]


def test_client_credentials_token_is_a_signed_jwt_for_the_audience_and_scopes(
    hydra: Hydra,
) -> None:
    client = hydra.create_client(scopes=SCOPES, audiences=[AUDIENCE])

    token = verified(
        hydra, hydra.client_credentials_token(client, scopes=["tools:read"], audience=AUDIENCE)
    )

    assert token.header["alg"] == "RS256"
    assert token.header["kid"] in jwks_kids(hydra)
    assert_valid_claims(hydra, token.claims)
    claims = token.claims
    assert claims["iss"] == hydra.issuer and not claims["iss"].endswith("/")
    assert claims["aud"] == [AUDIENCE]
    assert claims["scp"] == ["tools:read"]
    assert claims["sub"] == claims["client_id"] == client.client_id
    assert claims["nbf"] == claims["iat"]
    assert_lifetime(claims, hydra.access_token_ttl)


def test_a_rotated_key_signs_new_tokens_and_the_old_one_stays_published(hydra: Hydra) -> None:
    client = hydra.create_client(scopes=SCOPES, audiences=[AUDIENCE])
    before = hydra.client_credentials_token(client, scopes=SCOPES, audience=AUDIENCE)
    old_kid = verified(hydra, before).header["kid"]

    new_kid = hydra.rotate_signing_key()
    after = hydra.client_credentials_token(client, scopes=SCOPES, audience=AUDIENCE)

    assert new_kid != old_kid
    assert verified(hydra, after).header["kid"] == new_kid
    assert {old_kid, new_kid} <= jwks_kids(hydra)
    assert verified(hydra, before).header["kid"] == old_kid


def test_a_scope_the_client_was_not_registered_for_is_refused(hydra: Hydra) -> None:
    client = hydra.create_client(scopes=["tools:read"], audiences=[AUDIENCE])

    with pytest.raises(TokenRefused) as refused:
        hydra.client_credentials_token(client, scopes=["tools:admin"], audience=AUDIENCE)

    assert refused.value.error == "invalid_scope"
    assert refused.value.status == 400


def test_an_audience_the_client_was_not_registered_for_is_refused(hydra: Hydra) -> None:
    client = hydra.create_client(scopes=["tools:read"], audiences=[AUDIENCE])

    with pytest.raises(TokenRefused) as refused:
        hydra.client_credentials_token(
            client, scopes=["tools:read"], audience="https://mcp.test/other"
        )

    assert refused.value.error == "invalid_request"
    assert "https://mcp.test/other" in refused.value.description


def test_authorization_code_with_pkce_issues_a_token_for_the_user(hydra: Hydra) -> None:
    client = hydra.create_client(
        scopes=SCOPES, audiences=[AUDIENCE], grant_types=("authorization_code",)
    )

    raw = hydra.authorization_code_token(
        client, scopes=["tools:call"], audience=AUDIENCE, subject="alice@example.com"
    )

    token = verified(hydra, raw)
    assert_valid_claims(hydra, token.claims)
    assert token.claims["sub"] == "alice@example.com"
    assert token.claims["client_id"] == client.client_id
    assert token.claims["aud"] == [AUDIENCE]
    assert token.claims["scp"] == ["tools:call"]


def test_a_code_with_the_wrong_pkce_verifier_is_refused(hydra: Hydra) -> None:
    client = hydra.create_client(
        scopes=SCOPES, audiences=[AUDIENCE], grant_types=("authorization_code",)
    )
    grant = hydra.authorize(client, scopes=["tools:read"], audience=AUDIENCE, subject="bob")

    with pytest.raises(TokenRefused) as refused:
        hydra.exchange_code(client, grant, code_verifier="x" * 64)

    assert refused.value.error == "invalid_grant"
    assert "PKCE" in refused.value.description


def test_the_authorization_endpoint_refuses_an_unregistered_scope(hydra: Hydra) -> None:
    client = hydra.create_client(
        scopes=["tools:read"], audiences=[AUDIENCE], grant_types=("authorization_code",)
    )

    with pytest.raises(TokenRefused) as refused:
        hydra.authorize(client, scopes=["tools:admin"], audience=AUDIENCE, subject="bob")

    assert refused.value.error == "invalid_scope"


def test_a_provider_of_its_own_has_its_ttl_and_is_reaped_on_exit(tmp_path: Path) -> None:
    with Hydra(tmp_path, access_token_ttl=timedelta(minutes=5)) as hydra:
        client = hydra.create_client(scopes=SCOPES, audiences=[AUDIENCE])
        claims = verified(
            hydra, hydra.client_credentials_token(client, scopes=SCOPES, audience=AUDIENCE)
        ).claims
        pid = hydra.pid

    assert_lifetime(claims, timedelta(minutes=5))
    assert not os.path.exists(f"/proc/{pid}")
