"""json_codec: pydantic's JSON where it can, `json`'s where pydantic refuses."""

from __future__ import annotations

import json

import pytest
from mcp_runtime import json_codec


def test_encode_writes_compact_utf8_or_ascii_escapes() -> None:
    value = {"text": "é ☃", "n": [1, 2.5, None, True]}
    assert json_codec.encode(value) == '{"text":"é ☃","n":[1,2.5,null,true]}'.encode()
    assert json_codec.encode(value, ascii_only=True) == (
        b'{"text":"\\u00e9 \\u2603","n":[1,2.5,null,true]}'
    )


def test_encode_writes_what_pydantic_refuses_as_json_dumps_does() -> None:
    # A lone surrogate has no UTF-8: pydantic refuses it, json.dumps escapes it.
    assert json_codec.encode({"text": "a\ud800"}) == b'{"text":"a\\ud800"}'
    assert json_codec.encode({"value": object()}, default=lambda _: "opaque") == (
        b'{"value":"opaque"}'
    )


@pytest.mark.parametrize(
    "data",
    [
        '{"a": [1, "é"]}'.encode(),
        '{"a": 1}'.encode("utf-16"),
        b'"\\ud800"',
        b"[" * 300 + b"]" * 300,
    ],
    ids=["plain", "UTF-16", "a lone surrogate", "nesting past 200"],
)
def test_decode_reads_what_json_loads_reads(data: bytes) -> None:
    assert json_codec.decode(data) == json.loads(data)


def test_decode_refuses_in_json_loads_words() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting property name"):
        json_codec.decode(b"{not json")
