"""Runtime settings read from the environment variables the Helm chart sets."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AnyHttpUrl,
    Field,
    PostgresDsn,
    SecretStr,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound="RuntimeSettings")

# Where every server serves MCP; app.py mounts it, MCP_RESOURCE_URL must point at it.
MCP_PATH = "/mcp"

CommaList = Annotated[tuple[str, ...], NoDecode]
# OAuth scopes are space-separated where they travel (RFC 6749); commas are taken as well.
SpaceList = Annotated[tuple[str, ...], NoDecode]

# The least a request-state key may hold, the MCP SDK's own floor for its AES-256-GCM codec.
REQUEST_STATE_KEY_BYTES = 32

# The algorithm auth.py asks FastMCP's JWTVerifier for; MCP_JWT_PUBLIC_KEY is checked against it.
JWT_ALGORITHM = "RS256"

# RFC 6749 section 3.3: a scope-token is printable ASCII but space, '"' and '\'.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_NOT_A_SCOPE = "is not an OAuth scope (printable ASCII without spaces, '\"' or '\\')"

# What FastMCP's Host/Origin guard can match an Origin header against: scheme://host[:port],
# where host and port may be its glob patterns (https://*.example.com, http://localhost:*),
# an IPv6 host is in brackets, and a trailing "/" is dropped; "*" alone allows every origin.
_ORIGIN = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:\[[0-9A-Fa-f:.]+\]|[^\s/:?#@\[\]]+)(?::(?P<port>\d+|\*))?/?"
)
# What FastMCP's Host/Origin guard can match a Host header against: host[:port], where host
# (a name, an IPv4 address or a bracketed IPv6 one) and port may be its glob patterns
# (*.example.com, localhost:*); a bare IPv6 address too, and "*" alone allows every host.
_ALLOWED_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.*-]+)(?::(?P<port>\d+|\*))?")
# A name uvicorn can bind to: RFC 1123 labels (plus "_", which resolvers accept).
_HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)


class PostgresUrl(PostgresDsn):
    """A PostgreSQL URL asyncpg can open: pydantic's PostgresDsn also takes SQLAlchemy
    driver schemes (`postgresql+asyncpg://`), which asyncpg rejects only at connect time."""

    _constraints = UrlConstraints(host_required=True, allowed_schemes=["postgres", "postgresql"])


class SettingsLoadError(Exception):
    """Raised with a one-line message naming the environment variable and the problem."""


class RuntimeSettings(BaseSettings):
    """Settings every server shares; a server subclasses this to add its own fields.

    Each field is read from the environment variable of the same name in upper case.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Fields whose raw input an error message never repeats: secrets, and PEM keys that
    # would break the one-line message.
    quiet_fields: ClassVar[frozenset[str]] = frozenset(
        {"database_url", "mcp_auth_token", "mcp_jwt_public_key", "mcp_request_state_keys"}
    )
    # Why a server serves from one process only, for a server that must: MCP_WORKERS > 1
    # then stops the start with this reason rather than running one process unannounced.
    one_process_only: ClassVar[str | None] = None

    mcp_transport: Literal["streamable-http"] = "streamable-http"
    mcp_host: str = "0.0.0.0"
    mcp_port: int = Field(default=8000, ge=1, le=65535)
    # /metrics on a port of its own, and only there: whatever reaches MCP_PORT (a Service
    # published outside the cluster, an Ingress, the MCP tier) cannot read the metrics.
    # Unset: /metrics is on MCP_PORT beside /mcp.
    mcp_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    mcp_stateless: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    mcp_allowed_hosts: CommaList = ()
    mcp_allowed_origins: CommaList = ()
    mcp_server_config: Path = Path("/etc/mcp/server-config.json")
    mcp_drain_timeout_seconds: float = Field(default=20.0, ge=0, le=3600)
    # The largest request body any route reads, /mcp included; the MCP SDK's own default.
    # Under 1 KiB even an MCP initialize would not fit.
    mcp_max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=1024**3)
    # How long a client may take to send its request headers, and then its body; past
    # either it is cut off, so a client trickling bytes cannot hold a connection forever.
    # 30 s for a body of up to 4 MiB asks for 140 KB/s, far below any in-cluster client.
    mcp_header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    mcp_body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How long an answer may wait for its client to read any of it: past that the
    # connection is dropped, so a client that calls and never reads cannot hold the answer's
    # memory (and the drain) for ever. nginx's send_timeout is 60 s too.
    mcp_send_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Stateful sessions (MCP_STATELESS=false) cost ~37 KB each (measured): 500 of them add
    # ~19 MB to a ~103 MB process, which stays inside the chart's 128Mi memory request.
    mcp_max_sessions: int = Field(default=500, ge=1, le=1_000_000)
    # The MCP SDK's default: a session outlives a client pausing for a human, and one
    # abandoned without a DELETE is reclaimed within half an hour.
    mcp_session_idle_timeout_seconds: float = Field(default=1800.0, gt=0, le=7 * 24 * 3600)
    # The escape hatch for the fast path (mcp_runtime.fast_path), which leans on FastMCP and
    # SDK internals: false sends every request through FastMCP's own handling. It is off by
    # itself on FastMCP/SDK versions it was not verified on (fast_path_gate.py).
    mcp_fast_path: bool = True
    # Worker processes serving one port (SO_REUSEPORT), for a pod given several cores: one
    # Python process uses about one. Each holds its own copy of the server (~100 MB).
    mcp_workers: int = Field(default=1, ge=1, le=64)
    mcp_auth_token: SecretStr | None = None
    # Keys sealing the 2026-07-28 `requestState` of a tool's ask for input, which the client
    # sends back on its next request, comma-separated: the first seals, each one unseals, so
    # a new key goes first and the old one stays until state sealed under it has expired
    # (10 minutes). Every replica given the same keys accepts the others' state; unset,
    # each process seals under a key it makes at start (request_state_keys.py).
    mcp_request_state_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    mcp_jwt_jwks_uri: str | None = None
    mcp_jwt_public_key: str | None = None
    mcp_jwt_issuer: str | None = None
    mcp_jwt_audience: str | None = None
    # Clock skew tolerated between the issuer and this pod when checking `nbf`.
    mcp_jwt_leeway_seconds: float = Field(default=60.0, ge=0, le=600)
    # A token without `exp` is valid forever once leaked; accept one only when told to.
    mcp_jwt_allow_no_exp: bool = False
    # Scopes every request's token must carry (space- or comma-separated); 403 otherwise.
    mcp_jwt_required_scopes: SpaceList = ()
    # The least time between two JWKS fetches for a key id not seen yet: a key the issuer
    # rotated in is picked up on its first token, while a flood of made-up key ids costs
    # at most one fetch per interval.
    mcp_jwt_jwks_refresh_seconds: float = Field(default=30.0, ge=0, le=3600)
    # This server's /mcp as its clients reach it: published as `resource` in the RFC 9728
    # metadata, and the audience a token must be for unless MCP_JWT_AUDIENCE says otherwise.
    mcp_resource_url: str | None = None
    # Grant (a scope, or a value of MCP_TOOL_GRANTS_CLAIM) -> the tools it opens; see
    # tool_grants.py. Unset: every authenticated caller may list and call every tool.
    mcp_tool_grants: Annotated[dict[str, tuple[str, ...]] | None, NoDecode] = None
    mcp_tool_grants_claim: str = Field(default="scope", min_length=1)
    # "<count>/<second|minute|hour|day>" (the `limits` library's notation), per replica.
    mcp_rate_limit_per_caller: str | None = None
    mcp_rate_limit_per_server: str | None = None
    database_url: PostgresUrl | None = None
    mcp_data_dir: Path = Path("/tmp/mcp-data")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "mcp_allowed_hosts", "mcp_allowed_origins", "mcp_request_state_keys", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("mcp_request_state_keys")
    @classmethod
    def _keys_are_strong_and_distinct(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        seen: dict[str, int] = {}
        for number, key in enumerate(value, start=1):
            secret = key.get_secret_value()
            size = len(secret.encode())
            if size < REQUEST_STATE_KEY_BYTES:
                raise ValueError(
                    f"key {number} is {size} bytes, each must be at least "
                    f"{REQUEST_STATE_KEY_BYTES} bytes of secret randomness (make one with "
                    "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
                )
            if secret in seen:
                raise ValueError(f"key {number} repeats key {seen[secret]}")
            seen[secret] = number
        return value

    @field_validator("mcp_jwt_required_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(value.replace(",", " ").split())
        return value

    @field_validator("mcp_jwt_required_scopes")
    @classmethod
    def _required_are_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if not _is_scope(scope):
                raise ValueError(f"{scope!r} {_NOT_A_SCOPE}")
        return value

    @field_validator("mcp_resource_url")
    @classmethod
    def _resource_is_mcp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        host, _, path = rest.partition("/")
        # The metadata's location is derived from it (RFC 9728 section 3.1), and the runtime
        # serves /mcp only, so a URL elsewhere would publish metadata nobody finds.
        if (
            scheme not in ("http", "https")
            or not host
            or "/" + path != MCP_PATH
            or not _is_http_url(value)
        ):
            raise ValueError(
                f"must be the http(s) URL of this server's {MCP_PATH} endpoint as clients"
                f" reach it, e.g. https://todo.example.com{MCP_PATH}"
            )
        return value

    @field_validator("mcp_jwt_issuer")
    @classmethod
    def _issuer_is_url(cls, value: str | None) -> str | None:
        # The authorization server MCP clients are sent to (RFC 9728, RFC 8414: an https
        # URL); FastMCP's resource server takes it as a URL, and would fail the start with
        # a traceback on anything else.
        if value is not None and not _is_http_url(value):
            raise ValueError(
                "must be the authorization server's http(s) URL, as its tokens' iss claim"
                " holds it, e.g. https://auth.example.com"
            )
        return value

    @field_validator("mcp_tool_grants", mode="before")
    @classmethod
    def _grants_from_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            grants = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(grants, dict):
            raise ValueError(
                'must be a JSON object of grant -> tool names, e.g. {"todo:read": ["@read-only"]}'
            )
        return grants

    @field_validator("mcp_tool_grants")
    @classmethod
    def _grants_name_tools(
        cls, value: dict[str, tuple[str, ...]] | None
    ) -> dict[str, tuple[str, ...]] | None:
        if value is None:
            return None
        for grant, tools in value.items():
            if not grant.strip():
                raise ValueError("a grant name is empty")
            if not tools or not all(isinstance(t, str) and t.strip() for t in tools):
                raise ValueError(f"grant {grant!r} must list at least one tool name")
        return value

    @field_validator("mcp_rate_limit_per_caller", "mcp_rate_limit_per_server")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from limits import parse_many

        try:
            items = parse_many(value)
        except ValueError:
            raise ValueError("must be <count>/<second|minute|hour|day>, e.g. 60/minute") from None
        # What the limits library reads besides, and rate_limits.py would take silently: a
        # list of limits, of which parse() keeps the first, and a count of 0.
        if len(items) > 1:
            raise ValueError(
                f"holds {len(items)} limits, and only one applies; set one"
                " <count>/<second|minute|hour|day>, e.g. 60/minute"
            )
        if items[0].amount < 1:
            raise ValueError(
                "a count of 0 would refuse every request; the count must be at least 1,"
                " e.g. 60/minute"
            )
        return value

    @field_validator("mcp_allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin == "*":
                continue
            # An entry without a scheme, or with a path, never equals an Origin header: the
            # browser client it was meant for would get 403 on every request.
            match = _ORIGIN.fullmatch(origin)
            port = match["port"] if match else None
            if match is None or (port not in (None, "*") and not 1 <= int(port) <= 65535):
                raise ValueError(
                    f"{origin!r} is not an origin; each entry must be scheme://host[:port],"
                    " e.g. http://localhost:8001"
                )
        return value

    @field_validator("mcp_allowed_hosts")
    @classmethod
    def _hosts_are_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            # A URL, or a host with a path, never equals a Host header: every request that
            # names it would get 421.
            match = _ALLOWED_HOST.fullmatch(host)
            port = match["port"] if match else None
            valid = match is not None and (port in (None, "*") or 1 <= int(port) <= 65535)
            if not valid and not _is_ip_address(host):
                raise ValueError(
                    f"{host!r} is not a host; each entry must be host[:port] as the Host header"
                    " carries it, e.g. todo.example.com"
                )
        return value

    @field_validator("mcp_host")
    @classmethod
    def _host_is_bindable(cls, value: str) -> str:
        # A dotted run of digits that is no IP address (999.1.1.1) would be looked up as a
        # name and fail only when uvicorn binds.
        if not _is_ip_address(value) and (
            _HOST_NAME.fullmatch(value) is None or re.fullmatch(r"[\d.]+", value)
        ):
            raise ValueError("must be an IP address or host name to listen on, e.g. 0.0.0.0")
        return value

    @field_validator(
        "mcp_auth_token",
        "mcp_jwt_jwks_uri",
        "mcp_jwt_public_key",
        "mcp_jwt_issuer",
        "mcp_jwt_audience",
        "mcp_resource_url",
        "mcp_rate_limit_per_caller",
        "mcp_rate_limit_per_server",
        "database_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Helm renders an optional value as an empty string; treat it as not set.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mcp_auth_token")
    @classmethod
    def _token_fits_a_header(cls, value: SecretStr | None) -> SecretStr | None:
        # HTTP trims a header value's ends and forbids control characters in it, so such a
        # token is never matched by any request's.
        token = None if value is None else value.get_secret_value()
        if token is not None and (token != token.strip() or not token.isprintable()):
            raise ValueError(
                "begins or ends with whitespace or holds a control character (a line break"
                " the file it came from ended with?), which no Authorization header carries:"
                " every request would get 401"
            )
        return value

    @field_validator("mcp_jwt_jwks_uri")
    @classmethod
    def _jwks_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("mcp_jwt_public_key")
    @classmethod
    def _public_key_verifies_tokens(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Imported here: only servers with JWT auth pay for loading the crypto stack.
        from cryptography.exceptions import UnsupportedAlgorithm
        from joserfc.errors import InvalidKeyTypeError, JoseError

        from mcp_runtime.internals import import_jwt_key

        # The very import FastMCP's JWTVerifier does per token, which takes what verifies
        # tokens today: PEM (SPKI or PKCS#1), an X.509 certificate, an OpenSSH public key.
        # A key it cannot import would turn every token away with 401.
        try:
            import_jwt_key(value, JWT_ALGORITHM)
        except InvalidKeyTypeError:
            raise ValueError(
                f"not an RSA key; tokens are verified with {JWT_ALGORITHM}, which needs the"
                " issuer's RSA public key"
            ) from None
        except (ValueError, TypeError, JoseError, UnsupportedAlgorithm):
            hint = (
                "; it holds literal \\n sequences where line breaks belong"
                if "\\n" in value
                else ""
            )
            raise ValueError(
                "not a PEM-encoded RSA public key (-----BEGIN PUBLIC KEY-----...); set the"
                f" issuer's public key, or MCP_JWT_JWKS_URI instead{hint}"
            ) from None
        return value

    @model_validator(mode="after")
    def _one_auth_method(self) -> Self:
        if self.mcp_jwt_jwks_uri and self.mcp_jwt_public_key:
            raise ValueError("MCP_JWT_JWKS_URI and MCP_JWT_PUBLIC_KEY are both set; set only one")
        if self.mcp_auth_token and self.jwt_enabled:
            raise ValueError("MCP_AUTH_TOKEN and a JWT verifier are both set; set only one")
        # Without a key source no token is checked at all: auth would be silently off.
        if self.mcp_workers > 1 and self.one_process_only:
            raise ValueError(f"MCP_WORKERS={self.mcp_workers}: {self.one_process_only}")
        # The kernel spreads connections over the workers, and a stateful session lives in the
        # one that opened it: the client's next connection would get 404 from another.
        if self.mcp_workers > 1 and not self.mcp_stateless:
            raise ValueError(
                f"MCP_WORKERS={self.mcp_workers} needs MCP_STATELESS=true: a stateful session"
                " lives in one worker process and other workers answer it with 404"
            )
        if self.mcp_metrics_port == self.mcp_port:
            raise ValueError(
                f"MCP_METRICS_PORT and MCP_PORT are both {self.mcp_port}; /metrics needs a port"
                " of its own (or leave MCP_METRICS_PORT unset to serve it on MCP_PORT)"
            )
        if (self.mcp_jwt_issuer or self.mcp_jwt_audience) and not self.jwt_enabled:
            raise ValueError(
                "MCP_JWT_ISSUER/MCP_JWT_AUDIENCE are set but neither MCP_JWT_JWKS_URI nor"
                " MCP_JWT_PUBLIC_KEY is; set one so tokens can be verified"
            )
        # Each of these only means something for a verified JWT; alone it would suggest a
        # protection that is not there.
        for name, value in (
            ("MCP_RESOURCE_URL", self.mcp_resource_url),
            ("MCP_TOOL_GRANTS", self.mcp_tool_grants),
            ("MCP_JWT_REQUIRED_SCOPES", self.mcp_jwt_required_scopes),
        ):
            if value and not self.jwt_enabled:
                raise ValueError(
                    f"{name} is set but neither MCP_JWT_JWKS_URI nor MCP_JWT_PUBLIC_KEY is;"
                    " it applies to OAuth access tokens (JWTs) only"
                )
        if self.mcp_resource_url and not self.mcp_jwt_issuer:
            raise ValueError(
                "MCP_RESOURCE_URL is set without MCP_JWT_ISSUER; the protected-resource"
                " metadata must name the authorization server, which is the issuer"
            )
        if self.mcp_tool_grants_claim == "scope":
            # Scopes travel space-separated and quoted (WWW-Authenticate): a grant with a
            # space is never held, and a client stepping up to it would ask in vain.
            for grant in self.mcp_tool_grants or ():
                if not _is_scope(grant):
                    raise ValueError(
                        f"MCP_TOOL_GRANTS: grant {grant!r} {_NOT_A_SCOPE}; with"
                        " MCP_TOOL_GRANTS_CLAIM=scope each grant is a scope a token carries"
                    )
        return self

    @property
    def jwt_audience(self) -> str | list[str] | None:
        """The audience a token must be for: MCP_JWT_AUDIENCE, else this server's URL, as
        written or as its protected-resource metadata names it (pydantic's form: a lower-case
        host, no default port), which is what MCP clients ask tokens for (RFC 8707)."""
        if self.mcp_jwt_audience or self.mcp_resource_url is None:
            return self.mcp_jwt_audience
        return list(dict.fromkeys([self.mcp_resource_url, str(AnyHttpUrl(self.mcp_resource_url))]))

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.mcp_jwt_jwks_uri or self.mcp_jwt_public_key)

    def server_config(self) -> dict[str, Any]:
        """The JSON object in MCP_SERVER_CONFIG, or {} when the file does not exist."""
        path = self.mcp_server_config
        # Absent only: a directory there (what `docker run -v` mounts for a host file that
        # does not exist) is refused when read, not taken for no configuration.
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SettingsLoadError(f"MCP_SERVER_CONFIG: cannot read {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SettingsLoadError(f"MCP_SERVER_CONFIG: {path} must hold a JSON object")
        return data


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_scope(value: str) -> bool:
    """Whether `value` is an OAuth scope (RFC 6749 section 3.3's scope-token)."""
    return _SCOPE.fullmatch(value) is not None


def _is_http_url(value: str) -> bool:
    """Whether `value` is an http(s) URL pydantic's AnyHttpUrl takes (a port in range, a
    host that is one), as FastMCP's auth provider builds its URLs with it."""
    try:
        AnyHttpUrl(value)
    except ValidationError:
        return False
    return True


def load_settings(settings_cls: type[SettingsT]) -> SettingsT:
    """Read settings from the environment; raise SettingsLoadError with a one-line message."""
    try:
        return settings_cls()
    except ValidationError as exc:
        raise SettingsLoadError(describe_errors(exc, settings_cls)) from None


def describe_errors(exc: ValidationError, settings_cls: type[RuntimeSettings]) -> str:
    """One line naming each bad environment variable and what is wrong with it."""
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        if not field:
            problems.append(message)
            continue
        detail = f"{field.upper()}: {message}"
        if field not in settings_cls.quiet_fields and isinstance(error.get("input"), str):
            detail += f" (got {error['input']!r})"
        problems.append(detail)
    return "; ".join(problems)
