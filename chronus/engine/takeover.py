"""What a supervisor that takes over a running engine rebuilds from the slots and the files.

The keeper comes from the manifest and the shared memory (`SlotKeeper.adopt`); this module
holds the rest: the plugin versions the slots use and their isolated modules' rings (from
the manifest), the patch the slots play (from a snapshot of a slot's state, the standby's
where it can, plus the commands sent after it), the commands the dead supervisor sent but
had not logged yet (matched against the tail of the session log), and the recording it was
writing.
"""

from __future__ import annotations

import time
from pathlib import Path

from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.specs import declare
from chronus.engine.hosted import HostedModules
from chronus.engine.keeper import SlotKeeper
from chronus.engine.manifest import HostedRing, PluginInUse, Recording
from chronus.engine.plugin_feed import Code
from chronus.engine.plugin_loads import source_of
from chronus.engine.recorder import Recorder
from chronus.midi.out_forecast import ScheduleSeed
from chronus.plugins.ladspa.reference import ladspa_version, split_reference
from chronus.plugins.store import PluginStore, StoredPlugin
from chronus.protocol import SLOT_ONLY, Message, ProtocolError, decode
from chronus.session.stamped_log import StampedLog
from chronus.session.wav import WavWriter

__all__ = [
    "SNAPSHOT_WAIT_S",
    "TakeoverError",
    "hosted_rings",
    "patch_of_slots",
    "plugins_in_use",
    "rehost",
    "resume_recording",
    "take_plugins",
    "unlogged",
]

SNAPSHOT_WAIT_S = 5.0
"""How long a new supervisor waits for a slot's snapshot (its capture is forked)."""


class TakeoverError(RuntimeError):
    """The running engine cannot be taken over (its slots gave no state)."""


def plugins_in_use(keeper: SlotKeeper) -> tuple[PluginInUse, ...]:
    """The plugin versions the slots use, for the manifest."""
    used = []
    for name, (version, path) in keeper.in_use.items():
        code = keeper.plugins.code.get((name, version))
        if code is not None:
            warm = (name, version) not in keeper.plugins.cold
            hosting = keeper.hosting.get(name, "inline")
            params, processor = code.params, code.processor
            used.append(PluginInUse(name, version, path, hosting, params, processor, warm))
    return tuple(used)


def hosted_rings(patch: Patch, hosted: HostedModules) -> tuple[HostedRing, ...]:
    """Every isolated module of the patch with its ring, for the manifest."""
    rings = []
    for module_id, entry in patch.modules.items():
        keeper = hosted.keeper(module_id)
        if keeper is not None:
            rings.append(HostedRing(module_id, str(entry["type"]), keeper.ring.name))
    return tuple(rings)


def _intact(plugin: PluginInUse, store: PluginStore) -> str:
    """Why the version the slots use cannot be held here ("" if it can): its store copy is
    gone or changed, or its native library changed."""
    native = split_reference(plugin.path)
    if native is None:
        stored = store.get(plugin.name, plugin.version)
        return "" if stored is not None and stored.path == plugin.path else "not in the store"
    try:
        same = ladspa_version(*native) == plugin.version
    except OSError as exc:
        return f"{native[0]}: {exc.strerror}"
    return "" if same else f"{native[0]} changed since it was loaded"


def take_plugins(
    plugins: tuple[PluginInUse, ...], keeper: SlotKeeper, store: PluginStore, hosted: HostedModules
) -> list[str]:
    """Hold the plugin versions the slots use, as the dead supervisor held them: their types
    declared (commands to their modules apply), every new worker to import them (the
    adopted ones hold them), isolated ones hosted. They are not validated again: each is
    the version validated (or forced) before, found intact in the store. What could not be
    held, and why."""
    refused = []
    for plugin in plugins:
        why = _intact(plugin, store)
        if why:
            refused.append(f"{plugin.name} {plugin.version}: {why}")
            continue
        key = (plugin.name, plugin.version)
        declare(plugin.name, plugin.params, plugin.processor)
        keeper.in_use[plugin.name] = (plugin.version, plugin.path)
        keeper.hosting[plugin.name] = plugin.hosting
        keeper.plugins.want(plugin.name, plugin.version, plugin.path, warm=plugin.warm)
        keeper.plugins.code[key] = Code(plugin.params, plugin.processor)
        for seat in keeper.seats:
            if seat.worker is not None:
                seat.worker.plugins.add(key)  # it plays the version already
        if plugin.hosting == "isolated":
            stored = StoredPlugin(plugin.name, plugin.version, plugin.path, plugin.path)
            hosted.host(plugin.name, source_of(stored), len(plugin.params))
    return refused


def rehost(rings: tuple[HostedRing, ...], patch: Patch, hosted: HostedModules) -> int:
    """Start a host on the ring of every isolated module the patch still holds; how many."""
    taken = 0
    for ring in rings:
        entry = patch.modules.get(ring.module_id)
        if entry is not None and entry["type"] == ring.type_name:
            taken += hosted.adopt(ring.module_id, ring.type_name, ring.ring)
    return taken


def _messages(payload: bytes) -> list[Message]:
    try:
        return [m for m in decode(payload) if m.address not in SLOT_ONLY]
    except ProtocolError:
        return []  # the slots refused it too


def patch_of_slots(keeper: SlotKeeper) -> tuple[Patch, int, ScheduleSeed]:
    """The patch the slots play, as the dead supervisor held it: a slot's (the standby's while
    it runs in lockstep: `SlotKeeper.snapshot_source`), with its pending commands and those
    it has not taken from its ring yet applied in order; how many of the commands that
    build it did not apply here (a module of a plugin type this supervisor has not loaded:
    it plays on in the slots, but commands to it are refused); and what MIDI out's sequencer
    starts from (the slot's sequencer, and those commands at their samples)."""
    got = keeper.patch_of_slot(SNAPSHOT_WAIT_S)
    if got is None:
        raise TakeoverError("the slots gave no snapshot of their state")
    data, timed, first_seq, renderer = got
    pending = [message for _, message in timed]
    try:
        building = Patch.messages_of(data)
    except (ProtocolError, KeyError, TypeError, ValueError) as exc:
        raise TakeoverError(f"the slot's patch is not readable: {exc}") from exc
    patch, skipped = Patch(), 0
    for message in building:
        try:
            patch.apply(message)
        except (PatchError, KeyError, ValueError):
            skipped += 1
    kept = keeper.commands_from(first_seq)
    later = [m for _, _, payload in kept for m in _messages(payload)]
    for message in [*pending, *later]:
        if message.address in SLOT_ONLY:
            continue
        try:
            patch.apply(message)
        except (PatchError, KeyError, ValueError):
            continue  # refused by the slot as well: it changed nothing there
    timed += [(stamp, m) for _, stamp, payload in kept for m in _messages(payload)]
    seed = ScheduleSeed(
        building, renderer.get("sequencer"), int(renderer.get("position", 0)), timed
    )
    return patch, skipped, seed


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
