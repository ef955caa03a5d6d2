"""A native plugin asked of a real engine (null backend) over OSC, as the language sends it:
refused with the reason, nothing loaded, the engine playing on. (Native plugins play only in
plugin hosts, which this engine does not have yet.)"""

from __future__ import annotations

import time

from chronus.engine.client import EngineProcess
from chronus.lang.interpreter import Interpreter
from chronus.lang.native import NativePlugin, declare_native
from tests.sessions import answer

REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"


def test_load_plugin_is_refused_with_the_reason(null_engine: EngineProcess) -> None:
    declare_native([NativePlugin("tap_reverb", REVERB, "Reverberator", "Tom Szilagyi")])
    try:
        result = Interpreter().interpret("load plugin tap_reverb")
    finally:
        declare_native([])
    assert result.ok and [m.to_list() for m in result.messages] == [
        ["/plugins/load", REVERB, "tap_reverb"]
    ]
    with null_engine.client() as client:
        before = int(client.status()["io"]["blocks_played"])
        client.send(list(result.messages))
        address, args = answer(client, "/plugins/loaded", 10.0)
        assert address == "/error" and args[0] == "/plugins/load"
        assert "tap_reverb is a native (LADSPA) plugin" in args[1]
        assert "no plugin hosts yet" in args[1]
        assert [p["name"] for p in client.plugins()] == []
        time.sleep(0.2)
        assert int(client.status()["io"]["blocks_played"]) > before
