"""Prepared patterns: the supervisor's parsed tables reach a slot intact, or not at all."""

from __future__ import annotations

import doctest
import multiprocessing as mp
import time

import pytest

from chronus.engine import prepared as prepared_module
from chronus.engine.prepared import PreparedPatterns, load_prepared
from chronus.engine.rings import unique_name
from chronus.protocol import validate
from chronus.seq import notation
from chronus.seq.notation import parse
from tests.busy_patterns import busy_patterns

BUSY = busy_patterns(24, seed=3)


@pytest.fixture
def store():
    patterns = PreparedPatterns.create(unique_name("test-prepared"), arena=1 << 20)
    yield patterns
    patterns.close()


def tables(text: str) -> bytes:
    return parse(text).to_bytes()


def test_a_prepared_pattern_comes_back_as_the_same_tables(store: PreparedPatterns) -> None:
    for text in BUSY[:5]:
        assert store.put(parse(text))
    for text in BUSY[:5]:
        taken = store.take(text)
        assert taken is not None and taken.to_bytes() == tables(text)
    assert store.take(BUSY[6]) is None
    assert store.take("c3") is None


def test_putting_the_same_pattern_again_writes_nothing(store: PreparedPatterns) -> None:
    store.put(parse(BUSY[0]))
    written = int(store.header[1])
    assert store.put(parse(BUSY[0])) and int(store.header[1]) == written


def test_a_pattern_too_big_for_the_arena_is_refused_and_not_found() -> None:
    small = PreparedPatterns.create(unique_name("test-prepared"), arena=4096)
    try:
        big = max(BUSY, key=lambda text: len(tables(text)))
        assert not small.put(parse(big))
        assert small.take(big) is None
        assert small.put(parse("c3 e3"))
        assert small.take("c3 e3") == parse("c3 e3")
    finally:
        small.close()


def test_older_patterns_written_over_are_gone_never_wrong() -> None:
    store = PreparedPatterns.create(unique_name("test-prepared"), arena=1 << 18)
    try:
        texts = [text for text in BUSY if len(tables(text)) <= 1 << 16]
        assert sum(len(tables(text)) for text in texts) > 2 << 18  # round the arena twice
        for text in texts:
            assert store.put(parse(text))
        found = {text: store.take(text) for text in texts}
    finally:
        store.close()
    assert found[texts[-1]] is not None
    assert any(pattern is None for pattern in found.values())
    for text, pattern in found.items():
        assert pattern is None or pattern.to_bytes() == tables(text)


def test_a_slot_loads_a_prepared_pattern_and_counts_the_ones_it_must_parse(
    store: PreparedPatterns,
) -> None:
    notation.clear_cache()
    prepared, unprepared = BUSY[0], BUSY[1]
    store.put(parse(prepared))
    notation.clear_cache()
    assert load_prepared(store, validate("/seq/bass/pattern", (prepared,)))
    assert notation.cached(prepared) is not None
    assert not load_prepared(store, validate("/seq/bass/pattern", (unprepared, 1)))
    assert notation.cached(unprepared) is None
    assert load_prepared(store, validate("/mod/bass/cutoff", (300.0,)))
    assert load_prepared(None, validate("/seq/bass/pattern", (prepared,)))  # remembered


def _writer(name: str, texts: list[str], seconds: float) -> None:
    store = PreparedPatterns.attach(name)
    patterns = [parse(text) for text in texts]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for pattern in patterns:  # more than the arena holds: each put writes over others
            store.put(pattern)
    store.close()


def test_a_reader_racing_a_writer_in_another_process_never_takes_a_torn_pattern() -> None:
    store = PreparedPatterns.create(unique_name("test-prepared"), arena=1 << 18)
    texts = [text for text in busy_patterns(40, seed=4) if len(tables(text)) <= 1 << 16]
    assert sum(len(tables(text)) for text in texts) > 2 << 18
    expected = {text: tables(text) for text in texts}
    writer = mp.get_context("spawn").Process(target=_writer, args=(store.name, texts, 3.0))
    writer.start()
    try:
        taken = 0
        deadline = time.monotonic() + 30
        while writer.is_alive() or taken == 0:
            assert time.monotonic() < deadline
            for text in texts:
                pattern = store.take(text)
                if pattern is not None:
                    assert pattern.to_bytes() == expected[text]
                    taken += 1
        assert taken > 0
    finally:
        writer.join(10)
        store.close()
    assert writer.exitcode == 0


def test_doctests() -> None:
    result = doctest.testmod(prepared_module)
    assert result.failed == 0 and result.attempted > 0
