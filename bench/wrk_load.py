"""Closed-loop load from wrk (Debian's `wrk`, C with a Lua hook per request): a load generator
that spends a few microseconds of CPU a call where the bench's Python one spends ~0.1 ms.

Where the servers need both cores (two workers against one), the load generator shares them,
and the Python generator's CPU, not the servers', capped what two workers could show. wrk
sends the same requests: `requests` are the exact POSTs (headers and body) of real sessions,
sent in turn over `connections` keep-alive connections; each answer must be HTTP 200 with a
JSON-RPC result that is not a tool error, or it counts as bad.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Latency quantiles each run reports, in microseconds: enough to pool runs for p50 and p95.
QUANTILES = [q + 0.5 for q in range(100)]

# A request's JSON-RPC id, replaced per call by one of the same width: a session-based server
# matches an answer to its request by id, so no two calls in flight may share one.
ID_MARK = 1_000_000
ID_KEY = '"id": '  # as json.dumps writes it
ID_LAST = 9_999_999

SCRIPT = """
local raw = {%(requests)s}
local heads, tails = {}, {}
local turn, id = 0, %(first_id)d
bad = 0
first_bad = ""

function init(args)
  for i, r in ipairs(raw) do
    local whole = wrk.format("POST", "/mcp", r[1], r[2])
    local at = whole:find(%(mark)s, 1, true)
    heads[i], tails[i] = whole:sub(1, at + %(key_width)d - 1), whole:sub(at + %(width)d)
  end
end

function request()
  turn = turn %% #heads + 1
  id = id < %(last_id)d and id + 1 or %(first_id)d
  return heads[turn] .. id .. tails[turn]
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"result"', 1, true) or body:find('"isError":%%s*true') then
    bad = bad + 1
    if first_bad == "" then
      first_bad = status .. " " .. body:sub(1, 160):gsub('[^%%w%%s:,.{}%%[%%]-]', "'")
    end
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local bad_total, first = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    if first == "" then first = thread:get("first_bad") end
  end
  local quantiles = {}
  for i, q in ipairs({%(quantiles)s}) do
    quantiles[i] = string.format("%%d", latency:percentile(q))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"bad":%%d,"first_bad":"%%s",'
      .. '"quantiles_us":[%%s]}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    bad_total, first, table.concat(quantiles, ",")))
end
"""


class WrkMissing(RuntimeError):
    """wrk is not installed."""


@dataclass(frozen=True)
class WrkRun:
    requests: int  # answers read, good or bad; a socket error is none
    seconds: float
    # Answers with a status other than 200, no result, or a tool error.
    bad_answers: int
    # Calls that failed: the bad answers and the socket errors.
    errors: int
    first_error: str
    latency_quantiles: list[float]  # seconds, at QUANTILES
    client_cpu: float  # wrk's user + system seconds


def lua_string(text: str) -> str:
    """`text` as a Lua string literal (long brackets: no escapes to get wrong)."""
    level = "="
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def lua_script(requests: list[tuple[dict[str, str], bytes]]) -> str:
    entries = []
    for headers, body in requests:
        table = ", ".join(f"[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
        entries.append(f"{{{{{table}}}, {lua_string(body.decode())}}}")
    return SCRIPT % {
        "requests": ",\n".join(entries),
        "quantiles": ", ".join(str(q) for q in QUANTILES),
        "mark": lua_string(ID_KEY + str(ID_MARK)),
        "key_width": len(ID_KEY),
        "width": len(ID_KEY + str(ID_MARK)),
        "first_id": ID_MARK + 1,
        "last_id": ID_LAST,
    }


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is not installed: `apt-get install wrk` (make bench installs it)")
    return found


def run_wrk(
    port: int, requests: list[tuple[dict[str, str], bytes]], connections: int, seconds: int
) -> WrkRun:
    """`requests` in turn over `connections` connections to 127.0.0.1:`port`/mcp for `seconds`
    (whole seconds: wrk's unit) on one wrk thread. Each request's body has the id `ID_MARK`,
    which every call replaces with a new one."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "calls.lua"
        script.write_text(lua_script(requests))
        argv = [wrk_binary(), "--threads", "1", "--connections", str(connections)]
        argv += ["--duration", f"{max(1, seconds)}s", "--timeout", "10s", "--script", str(script)]
        process = subprocess.Popen(
            [*argv, f"http://127.0.0.1:{port}/mcp"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    report = next((line for line in output.splitlines() if line.startswith('{"requests"')), None)
    if process.returncode != 0 or report is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output[-2000:]}")
    seen = json.loads(report)
    return WrkRun(
        requests=seen["requests"],
        seconds=seen["duration_us"] / 1e6,
        bad_answers=seen["bad"],
        errors=seen["socket_errors"] + seen["bad"],
        first_error=seen["first_bad"] or ("socket errors" if seen["socket_errors"] else ""),
        latency_quantiles=[us / 1e6 for us in seen["quantiles_us"]],
        client_cpu=usage.ru_utime + usage.ru_stime,
    )
