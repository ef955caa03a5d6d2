"""Playing a script in real time through a running engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby

from chronus.engine.client import EngineClient, Reply
from chronus.session.script import Script

__all__ = ["play_script"]


def play_script(
    client: EngineClient,
    script: Script,
    on_reply: Callable[[Reply], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Send each message of `script` at its time; return how many messages were sent.

    Messages that share a time go out back to back, so the engine stamps them together.
    Replies (errors, warnings) are handed to `on_reply` as they arrive.
    """
    start = clock()
    sent = 0
    for when, group in groupby(script.messages, key=lambda timed: timed.time):
        _sleep_until(client, start + float(when), on_reply, clock)
        batch = [timed.message for timed in group]
        client.send(batch)
        sent += len(batch)
    _sleep_until(client, start + float(script.duration), on_reply, clock)
    return sent


def _sleep_until(
    client: EngineClient,
    deadline: float,
    on_reply: Callable[[Reply], None] | None,
    clock: Callable[[], float],
) -> None:
    while (left := deadline - clock()) > 0:
        reply = client.receive(min(left, 0.05))
        if reply is not None and on_reply is not None:
            on_reply(reply)
