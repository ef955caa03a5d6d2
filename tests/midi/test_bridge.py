"""The MIDI process's pure parts: MIDI bytes to OSC, dated bundles, choosing a port."""

from __future__ import annotations

import pytest

from chronus.engine.sample_clock import ntp_of_unix
from chronus.midi.bridge import dated_bundle, event_message
from chronus.midi.ports import PortError, choose_port
from chronus.protocol import encode_raw, parse_timed


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([0x90, 60, 127], ("/midi/note", (60, 127))),
        ([0x9F, 60, 0], ("/midi/note", (60, 0))),
        ([0x85, 61, 40], ("/midi/note", (61, 0))),
        ([0xB3, 1, 5], ("/midi/cc", (1, 5))),
        ([0xE0, 0x7F, 0x7F], ("/midi/bend", (8191,))),
        ([0xE0, 0, 0], ("/midi/bend", (-8192,))),
        ([0xC0, 5], None),
        ([0xA0, 60, 20], None),
    ],
)
def test_midi_messages_become_osc_on_any_channel(data: list[int], expected: object) -> None:
    assert event_message(data) == expected


def test_a_dated_bundle_parses_back_with_its_tag() -> None:
    tag = ntp_of_unix(1_800_000_000.25)
    packet = dated_bundle(tag, encode_raw("/midi/note", 60, 100), encode_raw("/midi/cc", 1, 2))
    assert parse_timed(packet) == [
        (tag, "/midi/note", (60, 100)),
        (tag, "/midi/cc", (1, 2)),
    ]


def test_a_port_is_chosen_by_number_or_by_one_part_of_its_name() -> None:
    ports = ["keys:out", "keys:out2", "pads:midi"]
    assert choose_port(ports, "2") == 2
    assert choose_port(ports, "PADS") == 2
    assert choose_port(ports, "keys:out") == 0, "an exact name among several that hold it"
    with pytest.raises(PortError, match="several MIDI ports match 'keys'"):
        choose_port(ports, "keys")
    with pytest.raises(PortError, match="no MIDI port '7'"):
        choose_port(ports, "7")


def test_the_bridges_own_time_tag_is_the_engines() -> None:
    from chronus.midi import bridge

    assert bridge.ntp_of_unix is ntp_of_unix  # one conversion, numpy-free, for both
    for seconds in (0.0, 1.25, 1_800_000_000.123456):
        assert bridge.ntp_of_unix(seconds) == ntp_of_unix(seconds)
