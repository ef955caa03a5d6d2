"""What a supervisor that takes over a running engine rebuilds from the slots and the files.

The keeper comes from the manifest and the shared memory (`SlotKeeper.adopt`); this module
holds the rest: the patch the slots play (from a snapshot of the active slot's state, plus
the commands sent after it), the commands the dead supervisor sent but had not logged yet
(matched against the tail of the session log), and the recording it was writing.
"""

from __future__ import annotations

import time
from pathlib import Path

from chronus.dsp.patch import Patch, PatchError
from chronus.engine.keeper import SlotKeeper
from chronus.engine.manifest import Recording
from chronus.engine.recorder import Recorder
from chronus.protocol import SLOT_ONLY, Message, ProtocolError, decode
from chronus.session.stamped_log import StampedLog
from chronus.session.wav import WavWriter

__all__ = ["SNAPSHOT_WAIT_S", "TakeoverError", "patch_of_slots", "resume_recording", "unlogged"]

SNAPSHOT_WAIT_S = 5.0
"""How long a new supervisor waits for the active slot's snapshot (its capture is forked)."""


class TakeoverError(RuntimeError):
    """The running engine cannot be taken over (its slots gave no state)."""


def _messages(payload: bytes) -> list[Message]:
    try:
        return [m for m in decode(payload) if m.address not in SLOT_ONLY]
    except ProtocolError:
        return []  # the slots refused it too


def patch_of_slots(keeper: SlotKeeper) -> tuple[Patch, int]:
    """The patch the slots play, as the dead supervisor held it: the active slot's, with its
    pending commands and those it has not taken from its ring yet applied in order; and how
    many of the commands that build it did not apply here (a module of a plugin type this
    supervisor has not loaded: it plays on in the slots, but commands to it are refused)."""
    got = keeper.patch_of_active(SNAPSHOT_WAIT_S)
    if got is None:
        raise TakeoverError("the active slot gave no snapshot of its state")
    data, pending, first_seq = got
    try:
        building = Patch.messages_of(data)
    except (ProtocolError, KeyError, TypeError, ValueError) as exc:
        raise TakeoverError(f"the active slot's patch is not readable: {exc}") from exc
    patch, skipped = Patch(), 0
    for message in building:
        try:
            patch.apply(message)
        except (PatchError, KeyError, ValueError):
            skipped += 1
    later = [m for _, _, payload in keeper.commands_from(first_seq) for m in _messages(payload)]
    for message in [*pending, *later]:
        if message.address in SLOT_ONLY:
            continue
        try:
            patch.apply(message)
        except (PatchError, KeyError, ValueError):
            continue  # refused by the slot as well: it changed nothing there
    return patch, skipped


def unlogged(keeper: SlotKeeper, session_log: StampedLog) -> list[tuple[int, int, Message]]:
    """(seq, stamp, message) of the commands sent to the slots after the last one the log
    holds: those the dead supervisor had not logged yet (it logs each once a slot took it,
    a few ms after sending it). Found by the log's last command line among the commands the
    rings still hold; if none matches, those applied after its sample."""
    sent: list[tuple[int, int, Message, str]] = []
    for seq, stamp, payload in keeper.commands_from(0):
        for message in _messages(payload):
            sample = keeper.applied_at(seq)
            sent.append(
                (seq, stamp, message, StampedLog.line(stamp if sample is None else sample, message))
            )
    logged = session_log.last_commands(1)
    if not logged:
        return [(seq, stamp, message) for seq, stamp, message, _ in sent]
    last = logged[-1]
    for i in range(len(sent) - 1, -1, -1):
        if sent[i][3] == last:
            return [(seq, stamp, message) for seq, stamp, message, _ in sent[i + 1 :]]
    head = last.split("\t", 1)[0]
    after = int(head) if head.isdigit() else -1
    return [
        (seq, stamp, message)
        for seq, stamp, message, line in sent
        if int(line.split("\t", 1)[0]) > after
    ]


def resume_recording(recorder: Recorder, recording: Recording, rate: int, channels: int) -> str:
    """Go on writing the recording the dead supervisor was writing; what to tell of it.

    OSError or ValueError if its file cannot be reopened (then it stays as it was: a valid
    WAV of what was written, which `WavWriter` keeps whole after every write)."""
    began = time.monotonic()
    writer = WavWriter.reopen(Path(recording.file), rate, channels)
    recorder.resume(writer, recording.first_block, recording.length or None, recording.name)
    return (
        f"the recording to {recording.name} goes on from frame {writer.frames} "
        f"(reopened in {1000 * (time.monotonic() - began):.1f} ms)"
    )
