"""Status payloads (hub/payloads/status.py): text, JSON string and object accepted,
anything else refused as decode, any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import PayloadError
from hub.payloads import decode_status


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"online", "online"),
        (b"offline", "offline"),
        (b" online\n", "online"),
        (b'"offline"', "offline"),
        (b'{"status": "online"}', "online"),
        (b'{"status":"offline"}', "offline"),
    ],
)
def test_decode_status_accepts_text_json_string_and_object(payload: bytes, expected: str) -> None:
    assert decode_status(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [b"", b"ONLINE?", b"1", b'"up"', b'{"status": "on"}', b'{"status": "online", "x": 1}', b"\xff"],
)
def test_decode_status_refuses_other_payloads_as_decode(payload: bytes) -> None:
    with pytest.raises(PayloadError) as info:
        decode_status(payload)
    assert info.value.reason == "decode"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_decode_status_any_bytes_returns_status_or_payload_error(payload: bytes) -> None:
    try:
        assert decode_status(payload) in ("online", "offline")
    except PayloadError as exc:
        assert exc.reason == "decode"
