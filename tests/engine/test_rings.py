"""Shared-memory rings: wrap-around, full, empty, and two real processes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from chronus.engine.rings import AudioRing, CommandRing, SharedCounters, unique_name


@pytest.fixture
def audio_ring():
    ring = AudioRing.create(unique_name("test-audio"), capacity=4, block=8, rate=48000)
    yield ring
    ring.close()


@pytest.fixture
def command_ring():
    ring = CommandRing.create(unique_name("test-cmd"), capacity=4, record=64)
    yield ring
    ring.close()


def test_audio_ring_header_describes_the_stream(audio_ring: AudioRing) -> None:
    h = audio_ring.header
    assert (h[AudioRing.BLOCK], h[AudioRing.RATE], h[AudioRing.CAPACITY]) == (8, 48000, 4)
    assert h[AudioRing.CHANNELS] == 2
    assert audio_ring.write_pos == audio_ring.read_pos == 0


def test_audio_ring_empty_has_no_block(audio_ring: AudioRing) -> None:
    assert not audio_ring.has_block(0)
    assert audio_ring.space() == 4


def test_audio_ring_fills_up_and_wraps_around(audio_ring: AudioRing) -> None:
    for k in range(4):
        audio_ring.next_block()[:] = k
        audio_ring.publish(sounding=k % 2 == 1)
    assert audio_ring.space() == 0
    assert [audio_ring.has_block(k) for k in range(5)] == [True] * 4 + [False]
    # the reader consumes two, the writer wraps into the freed places
    audio_ring.header[AudioRing.READ] = 2
    for k in (4, 5):
        audio_ring.next_block()[:] = k
        audio_ring.publish(sounding=True)
    assert not audio_ring.has_block(1)
    assert [float(audio_ring.block_at(k)[0, 0]) for k in (2, 3, 4, 5)] == [2, 3, 4, 5]
    assert audio_ring.sounding[4 % 4] == 1 and audio_ring.sounding[2 % 4] == 0


def test_a_block_whose_place_the_writer_fills_next_is_not_settled(audio_ring: AudioRing) -> None:
    """The lockstep check compares a lagging slot's newest block with the other slot's copy,
    which the reader may have passed: with the ring full from there, the writer's next block
    overwrites it while it is compared (a standby once retired for a difference that was
    the active's next block)."""
    for k in range(4):
        audio_ring.next_block()[:] = k
        audio_ring.publish(sounding=True)
    audio_ring.header[AudioRing.READ] = 4  # the reader has taken all four
    assert audio_ring.has_block(0) and not audio_ring.settled(0)
    assert [audio_ring.settled(k) for k in (1, 2, 3, 4)] == [True, True, True, False]
    audio_ring.next_block()[:] = 4  # block 4 goes where block 0 was
    assert float(audio_ring.block_at(0)[0, 0]) == 4


def test_attached_ring_sees_the_same_memory(audio_ring: AudioRing) -> None:
    other = AudioRing.attach(audio_ring.name)
    try:
        audio_ring.next_block()[:] = 0.5
        audio_ring.publish(True)
        assert other.has_block(0) and float(other.block_at(0)[3, 1]) == 0.5
    finally:
        other.close()


def test_command_ring_round_trip_in_order_and_full(command_ring: CommandRing) -> None:
    assert command_ring.pop() is None
    for i in range(4):
        assert command_ring.push(100 + i, bytes([i]) * (i + 1))
    assert not command_ring.push(999, b"x")
    assert command_ring.drops == 1
    assert len(command_ring) == 4
    got = [command_ring.pop() for _ in range(4)]
    assert got == [(100 + i, bytes([i]) * (i + 1)) for i in range(4)]
    assert command_ring.pop() is None
    # wrap-around: positions keep growing past the capacity
    for i in range(10):
        assert command_ring.push(i, b"abc%d" % i)
        assert command_ring.pop() == (i, b"abc%d" % i)


def test_command_ring_rejects_oversized_payload(command_ring: CommandRing) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        command_ring.push(0, b"x" * (command_ring.max_payload + 1))
    assert len(command_ring) == 0


def _consume(command_name: str, audio_name: str, counters_name: str, n: int) -> None:
    commands = CommandRing.attach(command_name)
    audio = AudioRing.attach(audio_name)
    counters = SharedCounters.attach(counters_name, 4)
    total = 0
    received = 0
    while received < n:
        record = commands.pop()
        if record is None:
            continue
        stamp, payload = record
        total += stamp + len(payload)
        received += 1
        while audio.space() == 0:
            pass
        audio.next_block()[:] = stamp
        audio.publish(True)
    counters.values[0] = total
    commands.close()
    audio.close()
    counters.close()


def test_two_processes_exchange_every_record_in_order() -> None:
    n = 2000
    commands = CommandRing.create(unique_name("test-cmd2"), capacity=16, record=64)
    audio = AudioRing.create(unique_name("test-audio2"), capacity=4, block=8, rate=48000)
    counters = SharedCounters.create(unique_name("test-counters"), 4)
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=_consume, args=(commands.name, audio.name, counters.name, n))
    child.start()
    try:
        seen = []
        i = 0
        while len(seen) < n:
            if i < n and commands.push(i, b"p" * (i % 40)):
                i += 1
            k = audio.read_pos
            if audio.has_block(k):
                block = audio.block_at(k)
                assert np.all(block == block[0, 0])
                seen.append(int(block[0, 0]))
                audio.header[AudioRing.READ] = k + 1
        child.join(30)
        assert child.exitcode == 0
        assert seen == list(range(n))
        assert counters.values[0] == sum(i + i % 40 for i in range(n))
    finally:
        if child.is_alive():
            child.kill()
        commands.close()
        audio.close()
        counters.close()


def _resident_shared_kb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("RssShmem"))


def test_a_command_ring_has_its_pages_from_the_start() -> None:
    """A burst that reaches a page never touched would add it to the supervisor's memory
    then (8 MB over both seats' rings, once): it reads as growth, and is not."""
    before = _resident_shared_kb()
    ring = CommandRing.create(unique_name("test-cmd"), capacity=1024, record=1024)
    try:
        assert _resident_shared_kb() - before >= 1000  # the 1 MB of records
    finally:
        ring.close()


def test_a_record_is_read_where_it_is_stored_popped_or_not() -> None:
    """What a new supervisor reads of the commands its predecessor sent."""
    ring = CommandRing.create(unique_name("test-record-at"), capacity=4, record=64)
    try:
        for seq in range(6):
            ring.push(100 + seq, f"p{seq}".encode(), seq, solo=seq == 5)
            ring.pop()
        assert ring.record_at(5) == (105, b"p5", 5, True)
        assert ring.record_at(2) == (102, b"p2", 2, False)
        assert ring.record_at(1) == ring.record_at(5)  # lapped: the place holds record 5
    finally:
        ring.close()
