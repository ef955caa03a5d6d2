"""Sending a change through the engine's commit flow (see `chronus.engine.commit`): staged,
built in the standby slot, tested, and crossfaded in, so that it never drops out; a change
that fails changes nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass

from chronus.engine.client import EngineClient, EngineError, Reply
from chronus.engine.commit import IN_PROGRESS, NO_STANDBY, STANDBY_DIED
from chronus.protocol import Message, validate

__all__ = ["CommitOutcome", "commit_change"]

_ANSWER_S = 5.0
"""How long a commit the engine started may take to answer: it tests the change for 32
blocks, then crossfades, well under a second (it gives up on a test itself after 3 s)."""
_STANDBY_WAIT_S = 20.0
"""How long a commit that cannot start yet (the slots are still being replaced after the
last one: 0.5–1.4 s here, several seconds on a host whose CPUs other realtime threads
hold) is asked again; each refusal is an answer, so the commit that starts at last has
`_ANSWER_S` of its own."""
_RETRY_S = 0.05


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    """How a commit ended: whether it was crossfaded in, and the engine's words."""

    ok: bool
    text: str
    notes: tuple[Reply, ...] = ()
    """Warnings the engine gave while the change was staged."""


def commit_change(
    client: EngineClient,
    messages: list[Message],
    crossfade_ms: float = 50.0,
    silence_ok: bool = False,
) -> CommitOutcome:
    """Stage `messages`, commit them with a crossfade of `crossfade_ms`, and wait for the
    engine's answer. If the engine refuses any of them, the staged change is dropped and
    nothing changes. `silence_ok`: the change may be silent at first (its patterns have not
    yet played). Raises `EngineError` if the engine does not answer.

    A commit whose standby slot died while it was built changed nothing, and the slot is
    replaced: it is sent once more, as the musician would, for the same reason a commit
    that cannot start yet is asked again.
    """
    outcome = _commit_once(client, messages, crossfade_ms, silence_ok)
    if not outcome.ok and STANDBY_DIED in outcome.text:
        outcome = _commit_once(client, messages, crossfade_ms, silence_ok)
    return outcome


def _commit_once(
    client: EngineClient, messages: list[Message], crossfade_ms: float, silence_ok: bool
) -> CommitOutcome:
    client.send([validate("/patch/begin", ()), *messages])
    _, notes = client.sync()
    errors = [args for address, args in notes if address == "/error"]
    if errors:
        _abort(client)
        said = " ".join(str(a) for a in errors[0])
        return CommitOutcome(False, f"the engine refused it ({said}); nothing changed")
    warnings = tuple(note for note in notes if note[0] == "/warning")
    commit = validate("/patch/commit", (float(crossfade_ms), int(silence_ok)))
    client.send([commit])
    waits_until = time.monotonic() + _STANDBY_WAIT_S
    deadline = time.monotonic() + _ANSWER_S
    while (left := deadline - time.monotonic()) > 0:
        reply = client.receive(left)
        if reply is None:
            break
        address, args = reply
        if address == "/patch/committed":
            return CommitOutcome(True, str(args[1]) if len(args) > 1 else "", warnings)
        if address == "/error" and args and args[0] == "/patch/commit":
            why = str(args[-1])
            if why in (IN_PROGRESS, NO_STANDBY) and time.monotonic() + _RETRY_S < waits_until:
                time.sleep(_RETRY_S)  # still staged: ask again in a moment
                client.send([commit])
                deadline = time.monotonic() + _ANSWER_S
                continue
            _abort(client)  # a commit that could not start leaves the change staged
            return CommitOutcome(False, why, warnings)
        client.pending.append(reply)
    _abort(client)
    raise EngineError(f"no answer to /patch/commit within {_ANSWER_S:g} s")


def _abort(client: EngineClient) -> None:
    """Drop whatever is staged (an `/error` if nothing is: that is fine, and swallowed)."""
    client.send([validate("/patch/abort", ())])
    try:
        client.sync()
    except EngineError:
        pass
