"""`FutexSet`: a wait on several shared words ends when any of them changes, at once if one
already differs from what the waiter expects, else at its timeout."""

from __future__ import annotations

import threading
import time

import numpy as np

from chronus.plugins.atomics import Futex, FutexSet


def _words() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(4, np.int64), np.zeros(4, np.int64)


def test_a_wait_on_two_words_ends_when_the_second_changes() -> None:
    first, second = _words()
    bells = FutexSet([(first, 1), (second, 3)])

    def ring() -> None:
        time.sleep(0.1)
        second[3] += 1
        Futex(second).wake(3)

    ringer = threading.Thread(target=ring)
    began = time.monotonic()
    ringer.start()
    bells.wait([0, 0], 10.0)
    waited = time.monotonic() - began
    ringer.join()
    assert second[3] == 1
    assert 0.05 < waited < 5.0, waited


def test_a_word_already_changed_ends_the_wait_at_once_and_none_waits_the_timeout() -> None:
    first, second = _words()
    bells = FutexSet([(first, 0), (second, 0)])
    first[0] = 7
    began = time.monotonic()
    bells.wait([0, 0], 10.0)
    assert time.monotonic() - began < 1.0
    began = time.monotonic()
    bells.wait([7, 0], 0.2)
    waited = time.monotonic() - began
    assert waited < 2.0
    if bells.native:  # without futex_waitv a wait on several words looks again every 0.5 ms
        assert waited > 0.15, waited
