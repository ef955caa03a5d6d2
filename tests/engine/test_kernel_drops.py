"""A flood the kernel cannot queue is counted: every datagram sent is either read, shed or in
`kernel_drops` (Linux stamps each datagram with the drops before it was queued, so without
`steering`, which reads the count at once, it arrives with the first datagram after a flood)."""

from __future__ import annotations

import selectors
import socket
import sys

import pytest

from chronus.engine.endpoints import UDP_BURST, OscEndpoints
from chronus.protocol import encode_raw

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux counts")


def _read_all(osc: OscEndpoints) -> int:
    selector = selectors.DefaultSelector()
    osc.attach(selector)
    read = 0
    for key, mask in selector.select(1.0):
        read += sum(1 for _ in osc.ready(key, mask))
    osc.detach(selector)
    selector.close()
    return read


def test_datagrams_the_kernel_dropped_are_counted() -> None:
    osc = OscEndpoints.open("127.0.0.1", 0)
    for udp in osc.udps:  # the one the sender's datagrams go to among them
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel's smallest
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packet = encode_raw("/mod/bass/cutoff", 500.0)
    sent = 3000
    try:
        for _ in range(sent):
            sender.sendto(packet, ("127.0.0.1", osc.port))
        read = _read_all(osc)
        if osc.steered:  # the count read at once (SO_MEMINFO); the sender's backlog is shed
            assert osc.kernel_drops > 0
        else:
            assert osc.kernel_drops == 0  # the datagrams queued before the drops say none
        sender.sendto(packet, ("127.0.0.1", osc.port))  # one queued after them says how many
        read += _read_all(osc)
        assert osc.kernel_drops > 0
        assert read + osc.kernel_drops + osc.rates.shed == sent + 1
        assert osc.status()["kernel_drops"] == osc.kernel_drops
    finally:
        sender.close()
        osc.close()


def test_a_flood_is_read_in_bursts_between_which_the_loop_runs() -> None:
    osc = OscEndpoints.open("127.0.0.1", 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(3 * UDP_BURST + 10):
            sender.sendto(encode_raw("/tempo", 120.0), ("127.0.0.1", osc.port))
        selector = selectors.DefaultSelector()
        osc.attach(selector)
        bursts = []
        while events := selector.select(1.0):
            for key, mask in events:
                bursts.append(sum(1 for _ in osc.ready(key, mask)))
        osc.detach(selector)
        selector.close()
        assert bursts == [UDP_BURST] * 3 + [10]
    finally:
        sender.close()
        osc.close()
