"""Ableton Link on the JACK device: the recorded beats against an independent peer's timeline.

Run under `flock /tmp/jack.lock` where others share the JACK server. The phase error stated
(printed) is each recorded onset's distance from the peer's nearest beat, the onset placed
on the host's clock by the engine's own clock readings plus the latency JACK reports.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chronus.dsp.render import render_offline
from chronus.engine.client import EngineProcess
from chronus.protocol import as_wire
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.conftest import require_jack
from tests.e2e.test_failover_null import classify_blocks
from tests.link_measure import Timeline, kick_messages, on_whole_blocks, percentile
from tests.link_peers import PeerProcess
from tests.onsets import onsets
from tests.stalls import StallMonitor

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.slow,
    pytest.mark.usefixtures("private_link_network"),
]

RATE, BLOCK = 48000, 128


def test_recorded_beats_on_jack_fall_on_the_link_peers_beats(tmp_path: Path) -> None:
    require_jack()
    peer = PeerProcess(120.0)
    log, wav = tmp_path / "session.log", tmp_path / "take.wav"
    engine = EngineProcess(
        port=0, backend="device", extra_args=["--link", "--log", str(log), "--record", str(wav)]
    )
    timeline = Timeline(RATE, BLOCK)
    try:
        engine.boot()
        with engine.client() as client, StallMonitor() as host:
            assert "JACK" in client.status()["io"]["device"]
            peer.wait_peers(1)
            timeline.watch(client, peer, 2.0)  # JACK's first callbacks settle
            client.send(kick_messages())
            client.sync()
            timeline.watch(client, peer, 3.0)
            peer.set_tempo(133.0)
            changed = time.monotonic()
            timeline.watch(client, peer, 5.0, lambda: abs(client.now()["bpm"] - 133) < 1.33)
            assert time.monotonic() - changed < 4 * 60 / 133  # by the next bar
            timeline.watch(client, peer, 8.0)
            final = client.status()
        assert engine.quit() == 0
    finally:
        engine.quit()
        peer.close()
    assert timeline.latency_ns > 0  # JACK's latency is counted
    recording, _ = read_wav(wav)
    session = read_stamped_log(log)
    reference = render_offline(session.commands, len(recording), RATE, BLOCK)
    comparison = classify_blocks(recording, reference)
    hits = timeline.watched(onsets(recording))
    errors = timeline.errors_ms(
        on_whole_blocks(hits, [*comparison.gaps, *comparison.fade_ins], BLOCK)
    )
    settled = errors[-8:]
    first_bar = timeline.errors_ms(hits[:1], quantum=4.0)[0]
    print(
        f"JACK: first beat {first_bar:+.3f} ms from the session's bar line; the last 8 beats "
        f"at 133 bpm: |p50| {percentile(settled, 50):.3f} ms, max "
        f"{percentile(settled, 100):.3f} ms; all {len(errors)}: max {percentile(errors, 100):.3f}"
        f" ms; host stalls {host.stalls_ms}; {final['io']['underruns']} underruns, "
        f"{final['io']['xruns']} xruns, "
        f"link {final['engine']['link']}"
    )
    # The start is placed by the sample clock as it reads when the pattern comes, 2 s after
    # JACK started (on a loaded host still settling by a millisecond or so), and a host stall
    # can slip the device's clock (no xrun said) while the start waits for its bar line: the
    # start is off by that much, and the nudges make it up (the settled beats above).
    slipped = max((ms for _, ms in host.stalls_ms), default=0.0)
    assert abs(first_bar) < 3.0 + slipped, f"host stalls: {host.stalls_ms}"
    # The settled beats too: a stall in their window slips them by as much (a CI run: stalls
    # of 9.2 and 9.4 ms on both CPUs, the beats 4.3 ms off, nudged back to 0.9 ms).
    assert percentile(settled, 100) < 1.0 + slipped, f"host stalls: {host.stalls_ms}"
    tempos = [m.args[0] for _, m in session.commands if m.address == "/tempo"]
    assert len(tempos) > 1 and all(as_wire(float(bpm)) == bpm for bpm in tempos), tempos
    assert comparison.unexplained == []
    assert len(comparison.gaps) <= final["io"]["underruns"]
