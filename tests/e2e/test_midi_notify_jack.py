"""A knob on a MIDI controller is told to the other shells by the MIDI port's name.

A real engine on the JACK device reads a real JACK MIDI port (`keys`, rtmidi); a raw UDP
subscriber (`/notify`) hears the cutoff the CC moved as `/changed <n> midi <port> …`, not
as the MIDI process's UDP address (which says nothing to a player).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import require_jack
from tests.e2e.test_ensemble_null import _changes, _subscriber
from tests.e2e.test_midi_jack import _engine, _patch, keys  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def test_a_cc_from_a_midi_port_is_told_by_the_ports_name(
    tmp_path: Path,
    keys: object,  # noqa: F811 (the fixture imported above)
) -> None:
    require_jack()
    engine = _engine(tmp_path)
    try:
        with engine.client() as client:
            _patch(client)
            port, _ = client.ask("/midi/in", "test-keys", "bass", timeout=30.0)
            client.ask("/midi/map", 74, "bass", "cutoff")
            listener = _subscriber(engine.port)
            try:
                time.sleep(0.3)  # JACK connects the ports
                keys.send_message([0xB0, 74, 100])  # type: ignore[attr-defined]
                heard = _changes(listener, 2.0)
            finally:
                listener.close()
    finally:
        assert engine.quit() == 0
    assert port == "chronus-test-keys:out"
    moves = [args[1:3] for args in heard if args[2] == "/mod/bass/cutoff"]
    assert moves == [("midi chronus-test-keys:out", "/mod/bass/cutoff")], heard
