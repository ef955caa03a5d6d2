"""Playing with others on one engine: hearing what the other clients change.

A thread subscribes (`/notify 1 <name> <commands port>`) on a socket of its own, renews every
`RENEW_S` and reads the engine's `/changed <seq> <client> <address> <args…>`. Changes that
arrive together from one client are handed on together (`on_changes`), so that a line of
theirs is told as one line here. A gap in the numbers, or an engine that forgot the
subscription (a restarted engine or supervisor, or one that dropped this client while it was
away), calls `on_missed`: the shell then rebuilds its mirror from the engine's dump.
"""

from __future__ import annotations

import getpass
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from chronus.engine.client import EngineClient
from chronus.engine.subscribers import RENEW_S
from chronus.protocol import Message, ProtocolError, validate
from chronus.shell.background import start_daemon, stop_daemon

__all__ = ["Ensemble", "Heard", "clients_text", "default_name", "heard_of"]

KNOB_GAP_S: Final = 0.15
"""Parameter changes that keep coming within this of each other are a knob being turned
(a MIDI controller sends one a few milliseconds apart): they are gathered, up to `KNOB_S`,
and told in one line (`[midi] bass cutoff 400 → 820 Hz`) instead of one line each."""
KNOB_S: Final = 1.0

Heard = tuple[str, list[Message]]
"""A client's name and the changes it made, in order."""


def default_name() -> str:
    """`user@host`: what others see this shell by unless `--name` says otherwise."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{socket.gethostname().split('.')[0]}"


def heard_of(replies: list[tuple[str, tuple[Any, ...]]]) -> tuple[list[Heard], list[int]]:
    """The `/changed` replies grouped by consecutive client, and their sequence numbers.

    >>> groups, numbers = heard_of([("/changed", (1, "ana", "/tempo", 140.0)),
    ...     ("/changed", (2, "ana", "/patch/create", "lead", "saw")),
    ...     ("/changed", (3, "ben", "/x"))])
    >>> [(name, [m.address for m in messages]) for name, messages in groups], numbers
    ([('ana', ['/tempo', '/patch/create'])], [1, 2, 3])
    """
    groups: list[Heard] = []
    numbers: list[int] = []
    for address, args in replies:
        if address != "/changed" or len(args) < 3 or not isinstance(args[0], int):
            continue
        numbers.append(args[0])
        try:
            message = validate(str(args[2]), tuple(args[3:]))
        except ProtocolError:
            continue  # a change this shell's language does not know: its dump will
        name = str(args[1])
        if groups and groups[-1][0] == name:
            groups[-1][1].append(message)
        else:
            groups.append((name, [message]))
    return groups, numbers


def _turns_a_knob(reply: tuple[str, tuple[Any, ...]]) -> bool:
    """Whether a reply is another client's parameter change."""
    address, args = reply
    return address == "/changed" and len(args) > 2 and str(args[2]).startswith("/mod/")


def clients_text(rows: list[dict[str, Any]], me: str) -> str:
    """`who`: the subscribed clients, one a line, this shell marked.

    >>> print(clients_text([{"name": "ana", "address": "127.0.0.1:5000", "since": 0,
    ...     "idle_s": 1.5}], "ana"))
    clients on this engine: 1
      ana (this shell)  127.0.0.1:5000  since 00:00:00  last heard 1.5 s ago
    """
    lines = [f"clients on this engine: {len(rows)}"]
    for row in rows:
        name = str(row.get("name", "?"))
        mark = " (this shell)" if name == me else ""
        since = time.strftime("%H:%M:%S", time.gmtime(float(row.get("since") or 0)))
        lines.append(
            f"  {name}{mark}  {row.get('address', '?')}  since {since}  "
            f"last heard {float(row.get('idle_s') or 0):.1f} s ago"
        )
    return "\n".join(lines)


class Ensemble:
    """Subscribes to the engine at `address` as `name` and hands on others' changes.

    `commands_port` is the port the shell's own commands come from: the engine tells others
    of them, not this shell.
    """

    def __init__(
        self,
        address: tuple[str, int],
        name: str,
        commands_port: int,
        on_changes: Callable[[list[Heard]], None],
        on_missed: Callable[[int], None],
        renew_s: float = RENEW_S,
    ) -> None:
        self.address = address
        self.name = name
        """The name the engine shows this shell by (its answer to `/notify`)."""
        self._commands_port = commands_port
        self.on_changes = on_changes
        self.on_missed = on_missed
        self.renew_s = renew_s
        self.last = 0
        """The number of the last change heard."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = EngineClient(*address)

    def start(self) -> Ensemble:
        """Subscribe, then listen in a daemon thread."""
        self._thread = start_daemon(self._run, "chronus-ensemble")
        return self

    def close(self) -> None:
        """Stop listening and end the subscription."""
        stop_daemon(self._stop, self._thread, 2.0)
        try:
            self._client.send_raw("/notify", 0)
        except OSError:
            pass  # the engine is gone: its subscription with it
        self._client.close()

    def _subscribe(self) -> None:
        self._client.send_raw("/notify", 1, self.name, self._commands_port)

    def _run(self) -> None:
        renew_at = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= renew_at:
                renew_at = time.monotonic() + self.renew_s
                try:
                    self._subscribe()
                except OSError:
                    continue
            try:
                replies = self._read(0.25)
            except OSError:
                self._stop.wait(0.25)
                continue
            self._take(replies)

    def _read(self, timeout: float) -> list[tuple[str, tuple[Any, ...]]]:
        """What arrived within `timeout`, and whatever followed it at once (a knob being
        turned: whatever followed it within `KNOB_GAP_S`, for up to `KNOB_S`)."""
        replies = []
        reply = self._client.receive(timeout)
        until = time.monotonic() + KNOB_S
        while reply is not None:
            replies.append(reply)
            reply = self._client.receive(0.0)
            left = until - time.monotonic()
            if reply is None and left > 0 and all(map(_turns_a_knob, replies)):
                reply = self._client.receive(min(left, KNOB_GAP_S))
        return replies

    def _take(self, replies: list[tuple[str, tuple[Any, ...]]]) -> None:
        for address, args in replies:
            if address == "/notify" and len(args) >= 2 and args[0] == 1:
                self.name = str(args[1])
                if len(args) >= 3 and isinstance(args[2], int) and args[2] < self.last:
                    # The engine numbers from 0 again: it forgot this shell meanwhile.
                    self.last = args[2]
                    self.on_missed(0)
        groups, numbers = heard_of(replies)
        missed = 0
        for number in numbers:
            missed += max(0, number - self.last - 1)
            self.last = number
        if groups:
            self.on_changes(groups)
        if missed:
            self.on_missed(missed)
