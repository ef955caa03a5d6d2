"""What `/engine/now` is made of: the slot's transport feed, the level from the tap, news."""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest

from chronus.engine.news import News
from chronus.engine.now import (
    SILENT_DB,
    TransportFeed,
    beat_at,
    level_blocks,
    output_level,
    read_transport,
    tempo_of,
)
from chronus.engine.recorder import RecordTap
from chronus.engine.rings import unique_name
from chronus.engine.stats import SlotField
from chronus.seq.transport import Transport
from tests.dsp.allocation import assert_allocates_nothing

RATE = 48000
BLOCK = 128


@pytest.fixture
def tap() -> Iterator[RecordTap]:
    made = RecordTap.create(unique_name("test-tap"), 64, BLOCK)
    yield made
    made.close()


def counters() -> np.ndarray:
    return np.zeros(SlotField.SIZE, dtype=np.int64)


def test_nothing_published_reads_as_none() -> None:
    values = counters()
    assert read_transport(values) is None
    assert beat_at(None, 1000) is None and tempo_of(None, RATE) is None


def test_a_running_transport_gives_the_beat_at_any_sample() -> None:
    values, transport = counters(), Transport(RATE)
    transport.running = True
    transport.rebase(48000, Fraction(8))
    transport.set_tempo(90.0)
    TransportFeed(values).publish(transport)
    view = read_transport(values)
    assert view is not None
    assert tempo_of(view, RATE) == pytest.approx(90.0)
    # 90 bpm: a beat is 32000 samples; a bar later is beat 12
    assert beat_at(view, 48000 + 4 * 32000) == pytest.approx(12.0)
    assert beat_at(view, 48000 + 16000) == pytest.approx(8.5)


def test_a_stopped_transport_has_no_beat_but_a_tempo() -> None:
    values, transport = counters(), Transport(RATE)
    transport.set_tempo(140.0)
    TransportFeed(values).publish(transport)
    view = read_transport(values)
    assert beat_at(view, 99999) is None
    assert tempo_of(view, RATE) == pytest.approx(140.0)


def test_a_start_not_yet_heard_reads_as_beat_zero() -> None:
    values, transport = counters(), Transport(RATE)
    transport.running = True
    transport.rebase(10_000, Fraction(0))
    TransportFeed(values).publish(transport)
    assert beat_at(read_transport(values), 9_744) == 0.0


def test_the_feed_writes_only_what_changed_and_follows_each_change() -> None:
    values, transport = counters(), Transport(RATE)
    feed = TransportFeed(values)
    feed.publish(transport)
    generation = int(values[SlotField.TRANSPORT])
    feed.publish(transport)
    assert int(values[SlotField.TRANSPORT]) == generation  # unchanged: nothing written
    transport.running = True
    transport.rebase(256, Fraction(4))
    feed.publish(transport)
    assert int(values[SlotField.TRANSPORT]) == generation + 2
    assert beat_at(read_transport(values), 256) == 4.0


def test_the_slots_call_each_block_allocates_nothing_while_the_transport_is_unchanged() -> None:
    values, transport = counters(), Transport(RATE)
    transport.running = True
    feed = TransportFeed(values)
    assert_allocates_nothing(lambda: feed.publish(transport))


def test_a_half_written_transport_is_not_read() -> None:
    values, transport = counters(), Transport(RATE)
    TransportFeed(values).publish(transport)
    values[SlotField.TRANSPORT] += 1  # odd: the slot is writing
    assert read_transport(values) is None


def test_silence_and_an_empty_tap_read_as_the_floor(tap: RecordTap) -> None:
    assert output_level(tap, 8) == ([SILENT_DB] * 2, [SILENT_DB] * 2)
    for k in range(4):
        tap.put(k, np.zeros((BLOCK, 2), dtype=np.float32))
    assert output_level(tap, 8) == ([SILENT_DB] * 2, [SILENT_DB] * 2)


def test_peak_and_rms_per_channel_over_the_last_blocks(tap: RecordTap) -> None:
    loud = np.zeros((BLOCK, 2), dtype=np.float32)
    loud[:, 0] = 0.5  # a constant: peak = RMS = −6.02 dB
    loud[::2, 1] = 0.25
    loud[1::2, 1] = -0.25
    for k in range(10):
        tap.put(k, np.zeros((BLOCK, 2), dtype=np.float32))  # older than the window
    for k in range(10, 14):
        tap.put(k, loud)
    peak, rms = output_level(tap, 4)
    assert peak[0] == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert rms[0] == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert peak[1] == pytest.approx(20 * math.log10(0.25), abs=0.01)
    # a window twice as long holds half the energy: 3 dB less RMS, the same peak
    peak8, rms8 = output_level(tap, 8)
    assert peak8 == peak
    assert rms8[0] == pytest.approx(rms[0] - 10 * math.log10(2), abs=0.01)


def test_the_window_that_wraps_the_ring_counts_both_ends(tap: RecordTap) -> None:
    for k in range(60):
        tap.put(k, np.zeros((BLOCK, 2), dtype=np.float32))
    spike = np.zeros((BLOCK, 2), dtype=np.float32)
    spike[3, 1] = -0.9
    tap.put(60, spike)  # position 60, near the end of the 64 slots
    for k in range(61, 70):
        tap.put(k, np.zeros((BLOCK, 2), dtype=np.float32))  # 66..69 wrap to 2..5
    peak, _ = output_level(tap, 12)
    assert peak[0] == SILENT_DB
    assert peak[1] == pytest.approx(20 * math.log10(0.9), abs=0.01)


def test_the_level_window_is_about_100_ms() -> None:
    assert level_blocks(RATE, BLOCK) == 38
    assert level_blocks(8000, 4096) == 1


def test_news_serials_rise_and_only_the_latest_are_kept() -> None:
    news = News(keep=3)
    for n in range(5):
        news.add("slot", f"event {n}")
    latest = news.latest()
    assert [e["serial"] for e in latest] == [3, 4, 5]
    assert latest[-1] == {"serial": 5, "kind": "slot", "text": "event 4"}
    assert news.serial == 5


def test_news_tells_an_unknown_kind_as_the_engines_and_never_raises() -> None:
    news = News()
    news.add("gossip", "hm")
    assert news.latest() == [{"serial": 1, "kind": "engine", "text": "(gossip) hm"}]
