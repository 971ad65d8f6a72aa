"""What FastMCP's `call_tool` (of the release in VERIFIED_VERSIONS) makes of an exception a
tool's run raises, line for line: the log record, and a ToolError (masked if the server masks
error details) for anything that is not FastMCP's own error, a validation error or a missing
client capability."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from fastmcp import FastMCP
from fastmcp.exceptions import FastMCPError, ToolError, ValidationError
from fastmcp.utilities.exceptions import get_http_status_code, is_timeout_error
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY
from pydantic import ValidationError as PydanticValidationError

from mcp_runtime.fast_path import private_api as private

T = TypeVar("T")


async def run_as_fastmcp(mcp: FastMCP, name: str, run: Awaitable[T]) -> T:
    """Await `run`, the run of `mcp`'s tool `name`, raising what FastMCP would raise."""
    logger = private.server_logger
    try:
        return await run
    except ValidationError as e:
        cause = e.__cause__
        if isinstance(cause, PydanticValidationError):
            logger.warning(
                "Invalid arguments for tool %r: %s",
                name,
                private.validation_error_summary(cause),
            )
        else:
            logger.warning("Invalid arguments for tool %r", name)
        raise
    except FastMCPError as e:
        logger.log(e.log_level, f"Error calling tool {name!r}", exc_info=False)
        raise
    except PydanticValidationError as e:
        logger.warning(
            "Invalid arguments for tool %r: %s",
            name,
            private.validation_error_summary(e),
        )
        raise
    except Exception as e:
        if isinstance(e, MCPError) and e.error.code == MISSING_REQUIRED_CLIENT_CAPABILITY:
            logger.debug(
                "Tool %r requires a client capability the client did not declare",
                name,
            )
            raise
        status_code = get_http_status_code(e)
        logger.error(f"Error calling tool {name!r}", exc_info=status_code is None)
        if status_code == 429:
            raise ToolError("Rate limited by upstream API, please retry later") from e
        if is_timeout_error(e):
            raise ToolError("Upstream request timed out, please retry") from e
        if private.masks_error_details(mcp):
            raise ToolError(f"Error calling tool {name!r}") from e
        raise ToolError(f"Error calling tool {name!r}: {e}") from e


def input_required_before_2026(name: str, version: str) -> MCPError:
    """What FastMCP's `_on_call_tool` raises when tool `name` asks for input with an
    `InputRequiredResult` on a connection of handshake-era `version`."""
    return MCPError(
        code=INVALID_PARAMS,
        message=(
            f"Tool {name!r} returned an InputRequiredResult to request "
            "client input, but the multi-round-trip result type "
            "(SEP-2322) only exists at MCP 2026-07-28; this connection "
            f"negotiated {version!r}. Use ctx.elicit() for "
            "server-initiated input on handshake-era connections."
        ),
    )
