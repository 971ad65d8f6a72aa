"""Ory Hydra as the OpenID Connect / OAuth 2.1 provider of the auth tests: a real process on two
loopback ports (public, admin), in-memory SQLite, JWT access tokens verifiable through its JWKS.

`Hydra(workdir)` is a context manager: it writes its config to `workdir`, starts
`hydra serve all --dev` (plain HTTP and an http:// issuer need dev mode), waits until both
ports are ready, and stops and reaps the process on exit, also when the start fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import httpx

from harness.locks import REPO, locked
from harness.processes import (
    LOOPBACK,
    POLL_SECONDS,
    START_TIMEOUT_SECONDS,
    ServerNotAnswering,
    ServerProcess,
    free_port,
)

HYDRA_BIN = REPO / ".tools" / "bin" / "hydra"
INSTALL_TOOLS = REPO / "scripts" / "install-tools.sh"
# The JWK set Hydra signs JWT access tokens with; the newest key in it signs.
ACCESS_TOKEN_KEY_SET = "hydra.jwt.access-token"
# Generating an RSA key (first token, rotation) takes a few seconds on a busy 2-core machine.
HTTP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def hydra_binary() -> Path:
    """.tools/bin/hydra, built by scripts/install-tools.sh first if missing (minutes, once)."""
    if not HYDRA_BIN.exists():
        # One builder at a time (pytest-xdist workers): the others then find the binary.
        with locked("install-tools"):
            if not HYDRA_BIN.exists():
                subprocess.run(["bash", str(INSTALL_TOOLS), "hydra"], check=True)
    return HYDRA_BIN


class TokenRefused(Exception):
    """Hydra answered an authorization or token request with an OAuth error."""

    def __init__(self, error: str, description: str, status: int | None = None) -> None:
        super().__init__(f"{error}: {description}" + (f" (HTTP {status})" if status else ""))
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uri: str | None = None


@dataclass(frozen=True)
class AuthorizationCode:
    """A code from the authorization endpoint and the PKCE verifier its challenge came from."""

    code: str
    code_verifier: str
    redirect_uri: str


class Hydra:
    """One Hydra process; see the module's docstring."""

    def __init__(
        self,
        workdir: Path,
        *,
        access_token_ttl: timedelta = timedelta(hours=1),
        binary: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.access_token_ttl = access_token_ttl
        self.binary = binary or hydra_binary()
        self.public_port = free_port()
        self.admin_port = free_port()
        self._server: ServerProcess | None = None
        self._admin: httpx.Client | None = None

    @property
    def public_url(self) -> str:
        return f"http://{LOOPBACK}:{self.public_port}"

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    @property
    def issuer(self) -> str:
        """Without a trailing slash: tokens carry `iss` exactly as configured."""
        return self.public_url

    @property
    def discovery_url(self) -> str:
        return f"{self.public_url}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.public_url}/.well-known/jwks.json"

    @property
    def token_endpoint(self) -> str:
        return f"{self.public_url}/oauth2/token"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.public_url}/oauth2/auth"

    @property
    def callback_url(self) -> str:
        """The redirect URI of authorization-code clients; never fetched, its query is read."""
        return f"{self.public_url}/harness/callback"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"hydra-{self.public_port}.log"

    def config(self) -> dict[str, Any]:
        return {
            "dsn": "memory",
            "serve": {
                "public": {"host": LOOPBACK, "port": self.public_port},
                "admin": {"host": LOOPBACK, "port": self.admin_port},
            },
            "urls": {
                "self": {"issuer": self.issuer},
                # authorize() drives the login and consent challenges through the admin API and
                # only reads them from the redirects: nothing serves these pages.
                "login": f"{self.public_url}/harness/login",
                "consent": f"{self.public_url}/harness/consent",
            },
            "secrets": {"system": [secrets.token_urlsafe(32)]},
            "strategies": {"access_token": "jwt", "jwt": {"scope_claim": "list"}},
            "ttl": {"access_token": f"{int(self.access_token_ttl.total_seconds())}s"},
            "oauth2": {"expose_internal_errors": True},
            "log": {"level": "info", "format": "json"},
        }

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / f"hydra-{self.public_port}.json"
        config_path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        argv = [str(self.binary), "serve", "all", "--dev", "--sqa-opt-out", "-c", str(config_path)]
        server = ServerProcess(argv, log_path=self.log_path, port=self.public_port)
        # Hydra takes any variable named like a config key (DSN, SERVE_PUBLIC_PORT, ...) over the
        # file: it gets none of this process's environment.
        server.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self._server = server.start()
        try:
            server.wait_until_answering("/health/ready", {200})
            self._wait_admin_ready(server)
            self._admin = httpx.Client(base_url=self.admin_url, timeout=HTTP_TIMEOUT_SECONDS)
            # Hydra makes its signing keys (RSA, seconds of CPU) on first use, inside the first
            # token request, after it has fixed the token's `exp`; the JWKS makes them now.
            self._wait_for_signing_keys()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop and reap the process; safe to call twice or after a failed start."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.stop(timeout=STOP_TIMEOUT_SECONDS)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        if self._server is None:
            raise RuntimeError("Hydra is not running")
        return self._server.pid

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def discovery(self) -> dict[str, Any]:
        """/.well-known/openid-configuration."""
        return _json(httpx.get(self.discovery_url, timeout=HTTP_TIMEOUT_SECONDS))

    def jwks(self) -> dict[str, Any]:
        return _json(httpx.get(self.jwks_uri, timeout=HTTP_TIMEOUT_SECONDS))

    def _wait_for_signing_keys(self) -> None:
        # On a busy machine generating them outlasts Hydra's write timeout, which drops the
        # connection; the generation goes on, and a later request finds the keys.
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                self.jwks()
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL_SECONDS)

    def create_client(
        self,
        *,
        scopes: Sequence[str],
        audiences: Sequence[str],
        grant_types: Sequence[str] = ("client_credentials",),
    ) -> OAuthClient:
        """A confidential client (client_secret_basic) allowed `scopes` and `audiences`."""
        body: dict[str, Any] = {
            "grant_types": list(grant_types),
            "scope": " ".join(scopes),
            "audience": list(audiences),
            "token_endpoint_auth_method": "client_secret_basic",
        }
        redirect_uri = None
        if "authorization_code" in grant_types:
            redirect_uri = self.callback_url
            body |= {"redirect_uris": [redirect_uri], "response_types": ["code"]}
        created = _json(self._admin_client().post("/admin/clients", json=body), 201)
        return OAuthClient(created["client_id"], created["client_secret"], redirect_uri)

    def client_credentials_token(
        self, client: OAuthClient, *, scopes: Sequence[str], audience: str | None = None
    ) -> str:
        """An access token (a JWT) for `client`; raises TokenRefused with Hydra's error."""
        form = {"grant_type": "client_credentials", "scope": " ".join(scopes)}
        if audience is not None:
            form["audience"] = audience
        return self._token(client, form)

    def rotate_signing_key(self) -> str:
        """Add a new RS256 key to the access-token set; the id of the key that now signs.

        Hydra signs with the set's newest key and keeps publishing the older ones in the JWKS,
        so tokens issued before the rotation still verify.
        """
        kid = f"rotated-{uuid.uuid4().hex[:12]}"
        created = _json(
            self._admin_client().post(
                f"/admin/keys/{ACCESS_TOKEN_KEY_SET}",
                json={"alg": "RS256", "use": "sig", "kid": kid},
            ),
            201,
        )
        kids = [key["kid"] for key in created["keys"]]
        if kids != [kid]:
            raise AssertionError(f"Hydra created keys {kids}, not {kid}")
        return kid

    def authorize(
        self,
        client: OAuthClient,
        *,
        scopes: Sequence[str],
        audience: str | None,
        subject: str,
    ) -> AuthorizationCode:
        """The authorization-code flow with PKCE (S256) up to the code, without a browser:
        the user agent's redirects are followed by hand and the login and consent challenges
        accepted through the admin API, for `subject`, granting `scopes` and `audience`."""
        if client.redirect_uri is None:
            raise ValueError("the client was not created with the authorization_code grant")
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        if audience is not None:
            params["audience"] = audience
        # The user agent: it carries Hydra's CSRF cookies from one redirect to the next.
        with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as browser:
            login = _redirect(browser.get(self.authorization_endpoint, params=params))
            accepted = self._accept(
                "login", _query(login, "login_challenge"), {"subject": subject, "remember": False}
            )
            consent = _redirect(browser.get(accepted))
            granted = {
                "grant_scope": list(scopes),
                "grant_access_token_audience": [audience] if audience is not None else [],
                "remember": False,
            }
            accepted = self._accept("consent", _query(consent, "consent_challenge"), granted)
            callback = _redirect(browser.get(accepted))
        if not str(callback).startswith(client.redirect_uri):
            raise AssertionError(f"Hydra redirected to {callback}, not to {client.redirect_uri}")
        if callback.params.get("state") != state:
            raise AssertionError(f"state {callback.params.get('state')!r} is not {state!r}")
        return AuthorizationCode(_query(callback, "code"), verifier, client.redirect_uri)

    def exchange_code(
        self, client: OAuthClient, grant: AuthorizationCode, *, code_verifier: str | None = None
    ) -> str:
        """The access token for `grant`; `code_verifier` overrides the grant's own (to prove
        Hydra checks it)."""
        form = {
            "grant_type": "authorization_code",
            "code": grant.code,
            "redirect_uri": grant.redirect_uri,
            "code_verifier": code_verifier if code_verifier is not None else grant.code_verifier,
        }
        return self._token(client, form)

    def authorization_code_token(
        self,
        client: OAuthClient,
        *,
        scopes: Sequence[str],
        audience: str | None,
        subject: str,
    ) -> str:
        """authorize() and exchange_code(): an access token whose `sub` is `subject`."""
        grant = self.authorize(client, scopes=scopes, audience=audience, subject=subject)
        return self.exchange_code(client, grant)

    def _token(self, client: OAuthClient, form: dict[str, str]) -> str:
        response = httpx.post(
            self.token_endpoint,
            data=form,
            auth=(client.client_id, client.client_secret),
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise TokenRefused(
                str(body.get("error", "unknown")),
                str(body.get("error_description", response.text)),
                response.status_code,
            )
        return str(response.json()["access_token"])

    def _accept(self, kind: str, challenge: str, body: dict[str, Any]) -> str:
        response = self._admin_client().put(
            f"/admin/oauth2/auth/requests/{kind}/accept",
            params={f"{kind}_challenge": challenge},
            json=body,
        )
        return str(_json(response)["redirect_to"])

    def _admin_client(self) -> httpx.Client:
        if self._admin is None:
            raise RuntimeError("Hydra is not running")
        return self._admin

    def _wait_admin_ready(self, server: ServerProcess) -> None:
        # Both ports open at once in `serve all`; the public one answering says little about
        # the admin one.
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline:
                if server.process.poll() is not None:
                    break
                try:
                    if http.get(f"{self.admin_url}/health/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_SECONDS)
        raise ServerNotAnswering(
            f"Hydra's admin port {self.admin_port} is not ready:\n{self.log_text()[-4000:]}"
        )


def _json(response: httpx.Response, expected: int = 200) -> dict[str, Any]:
    if response.status_code != expected:
        raise AssertionError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}, not {expected}: {response.text}"
        )
    body = response.json()
    if not isinstance(body, dict):
        raise AssertionError(f"{response.request.url} answered {body!r}, not an object")
    return body


def _redirect(response: httpx.Response) -> httpx.URL:
    """Where a redirect of Hydra's points; TokenRefused when it carries an OAuth error (to the
    client's redirect URI or Hydra's error page, at any step of the flow)."""
    if not response.is_redirect:
        raise AssertionError(
            f"{response.request.url} answered {response.status_code}, not a redirect: "
            f"{response.text[:2000]}"
        )
    location = response.request.url.join(response.headers["location"])
    if "error" in location.params:
        raise TokenRefused(location.params["error"], location.params.get("error_description", ""))
    return location


def _query(url: httpx.URL, name: str) -> str:
    value = url.params.get(name)
    if not value:
        raise AssertionError(f"no {name} in {url}")
    return value
