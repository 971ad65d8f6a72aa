"""The bridge's small parts on their own: line splitting, ids of dropped messages, the
restart policy, settings and the child's environment."""

from __future__ import annotations

import pytest
from mcp_bridge.child import describe_exit
from mcp_bridge.command import child_environment
from mcp_bridge.lines import KEEP_BYTES, LineSplitter, LongLine
from mcp_bridge.restarts import RestartPolicy
from mcp_bridge.settings import BridgeSettings
from mcp_bridge.transport import PendingRequests, answer_with_error, long_line_id
from mcp_runtime.settings import SettingsLoadError, load_settings


def test_lines_are_split_across_chunks_and_blank_lines_dropped() -> None:
    splitter = LineSplitter(limit=100)
    assert splitter.feed(b'{"a":') == []
    assert splitter.feed(b'1}\r\n\n  \n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":2}\n") == [b'{"b":2}']
    assert splitter.feed(b"tail") == []
    assert splitter.finish() == [b"tail"]


def test_a_line_over_the_limit_keeps_only_its_size_and_ends() -> None:
    splitter = LineSplitter(limit=4096)
    start = b'{"jsonrpc":"2.0","id":7,"result":"'
    chunks = [start, b"x" * 5000, b"y" * 5000, b'"}\nnext\n']
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert len(lines) == 2
    long, after = lines
    assert isinstance(long, LongLine)
    assert long.size == len(start) + 10_002
    assert long.head.startswith(start) and len(long.head) == KEEP_BYTES
    assert long.tail.endswith(b'y"}') and len(long.tail) == KEEP_BYTES
    assert after == b"next"


def test_a_line_of_exactly_the_limit_is_kept() -> None:
    assert LineSplitter(limit=10).feed(b"0123456789\n") == [b"0123456789"]
    (long,) = LineSplitter(limit=10).feed(b"0123456789a\n")
    assert isinstance(long, LongLine) and long.size == 11


@pytest.mark.parametrize(
    ("head", "tail", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":12,"result":{"content"', b'"}]}}', 12),
        (b'{"id": "call-3", "jsonrpc": "2.0", "result"', b"}}", "call-3"),
        # The TypeScript SDK writes the id last.
        (b'{"result":{"content":[{"id":99,"type":"text"', b'xx"}]},"jsonrpc":"2.0","id":5}', 5),
        (b'{"result":{"content":[{"id":99', b"no id at the end", None),
        # The child's own notification or request is nobody's answer.
        (b'{"jsonrpc":"2.0","method":"notifications/message","params"', b'"x"}}', None),
        (b'{"jsonrpc":"2.0","id":3,"method":"roots/list"', b'"id":3}', None),
        (b'{"method":"sampling/createMessage","params"', b'"jsonrpc":"2.0","id":1}', None),
    ],
)
def test_the_id_of_a_dropped_message_is_read_from_either_end(
    head: bytes, tail: bytes, expected: object
) -> None:
    assert long_line_id(LongLine(10**8, head, tail)) == expected


def test_pending_requests_match_ids_echoed_as_string_or_number() -> None:
    pending = PendingRequests()
    pending.sent(7, "tools/call")
    pending.sent("a", "resources/read")
    assert pending.only() is None
    assert pending.take("7") == (7, "tools/call")
    assert pending.take(7) is None
    assert pending.only() == "a"
    assert pending.take_all() == [("a", "resources/read")]


def test_a_tool_call_is_answered_with_a_tool_error_anything_else_with_an_error() -> None:
    tool = answer_with_error(3, "tools/call", "gone").model_dump(by_alias=True)
    assert tool["result"] == {"content": [{"type": "text", "text": "gone"}], "isError": True}
    other = answer_with_error(4, "prompts/get", "gone").model_dump(by_alias=True)
    assert (other["error"]["code"], other["error"]["message"]) == (-32603, "gone")


def test_the_restart_delay_doubles_and_too_many_crashes_in_the_window_give_up() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=3, max_crashes=4, window=60)
    assert [policy.crashed(t) for t in (0, 1, 2)] == [1, 2, 3]
    assert policy.crashed(3) is None


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=30, max_crashes=2, window=60)
    assert policy.crashed(0) == 1
    assert policy.crashed(61) == 1
    assert policy.crashed(62) is None


def test_starts_that_fail_in_a_row_give_up_however_long_each_took() -> None:
    # Each start ran into the 30 s start-up timeout: never 5 crashes in a 60 s window.
    policy = RestartPolicy(first_delay=0.5, max_delay=30, max_crashes=5, window=60)
    delays = [policy.crashed(31.0 * n, started=False) for n in range(1, 5)]
    assert delays == [0.5, 1, 2, 4]
    assert policy.crashed(31.0 * 5, started=False) is None


def test_a_start_that_succeeds_ends_the_run_of_failed_starts() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=30, max_crashes=3, window=60)
    assert policy.crashed(100, started=False) == 0.5
    assert policy.crashed(200, started=False) == 1
    assert policy.crashed(300, started=True) == 0.5
    assert policy.crashed(400, started=False) == 0.5
    assert policy.failed_starts == 1


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "code 3"
    assert describe_exit(-9) == "signal SIGKILL"


def test_the_child_gets_the_environment_without_the_bridge_settings() -> None:
    env = child_environment(
        {
            "PATH": "/bin",
            "API_KEY": "for-the-child",
            "DATABASE_URL": "postgresql://db/x",
            "MCP_AUTH_TOKEN": "bridge-secret",
            "mcp_jwt_public_key": "k",
            "MCP_BRIDGE_COMMAND": "[]",
            "MCP_PORT": "8010",
        }
    )
    assert env == {"PATH": "/bin", "API_KEY": "for-the-child", "DATABASE_URL": "postgresql://db/x"}


def test_the_command_setting_is_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_BRIDGE_COMMAND", '["npx", "-y", "server", "--token", "abc"]')
    settings = load_settings(BridgeSettings)
    assert settings.mcp_bridge_command == ("npx", "-y", "server", "--token", "abc")


def test_more_than_one_worker_is_refused_naming_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # One process is the stdio server's only client: a second worker would have no child.
    monkeypatch.setenv("MCP_WORKERS", "2")
    monkeypatch.setenv("MCP_STATELESS", "true")
    with pytest.raises(SettingsLoadError) as error:
        load_settings(BridgeSettings)
    assert str(error.value) == (
        "MCP_WORKERS=2: mcp-bridge serves from one process, the stdio server's only client;"
        " set MCP_WORKERS=1 and add replicas instead"
    )


@pytest.mark.parametrize("value", ['"npx"', '["npx", 3]', '{"command": "npx"}', '[""]'])
def test_a_bad_command_setting_names_the_variable_and_never_repeats_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MCP_BRIDGE_COMMAND", value)
    with pytest.raises(SettingsLoadError) as error:
        load_settings(BridgeSettings)
    assert str(error.value).startswith("MCP_BRIDGE_COMMAND: ")
    assert value not in str(error.value)
