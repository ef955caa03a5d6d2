"""What one client may not do to a running engine (issue 17): real OSC over UDP against
`chronus engine --backend null`. Each packet here once killed or hung the engine; now it
gets `/error`, is counted, and the engine goes on answering."""

from __future__ import annotations

import struct

import pytest

from chronus.engine.client import EngineProcess
from chronus.protocol import MAX_NESTING, encode_raw, validate

pytestmark = [pytest.mark.slow]


def _bundle(element: bytes) -> bytes:
    return b"#bundle\0" + struct.pack(">Qi", 1, len(element)) + element


def _nested(levels: int, element: bytes) -> bytes:
    for _ in range(levels):
        element = _bundle(element)
    return element


def test_deeply_nested_bundles_get_an_error_and_the_engine_goes_on(
    null_engine: EngineProcess,
) -> None:
    with null_engine.client() as client:
        client.send([validate("/patch/create", ("bass", "saw"))])
        client.sync()
        errors_before = client.status()["engine"]["osc"]["errors"]
        client.send_bytes(_nested(400, encode_raw("/mod/bass/cutoff", 500.0)))  # 6.6 KB
        address, text = client.wait_for("/error")
        assert address == "" and f"nested deeper than {MAX_NESTING} levels" in str(text)
        client.send_bytes(_nested(MAX_NESTING, encode_raw("/mod/bass/cutoff", 700.0)))
        client.sync()
        status = client.status()
        assert status["engine"]["osc"]["errors"] == errors_before + 1
        assert status["engine"]["osc"]["internal_errors"] == 0
        assert client.dump()["modules"]["bass"]["params"]["cutoff"] == 700.0
    assert null_engine.process is not None and null_engine.process.poll() is None
