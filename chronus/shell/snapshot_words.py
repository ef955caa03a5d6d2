"""The shell's snapshot words: `snapshot save`, `load snapshot` (through the engine's commit
flow, crossfaded), `snapshots`, `snapshot diff`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chronus.engine.client import EngineClient, EngineError
from chronus.lang.intents import Snapshot
from chronus.session.committing import commit_change
from chronus.session.snapshot_diff import patch_diff
from chronus.session.snapshots import SnapshotStore, load_messages, plugin_notes

__all__ = ["CROSSFADE_MS", "SHOWN", "SnapshotWords"]

CROSSFADE_MS = 50.0
"""How long a snapshot's load crossfades from the sound before to its own."""
SHOWN = 12
"""Changes a load lists (`snapshot diff` lists them all)."""


class _NoSnapshot(Exception):
    """The snapshot named (args[0]) has no file."""


class SnapshotWords:
    """Acts on `Snapshot` intents; everything it has to say goes to `write`.

    `resync()` rebuilds the shell's mirror from the engine after a load (undo goes back).
    A line that fails (no such snapshot, a corrupt or foreign file, a refused commit)
    writes why and changes nothing.
    """

    def __init__(
        self,
        store: SnapshotStore,
        client: EngineClient,
        write: Callable[[str], None],
        resync: Callable[[], None],
    ) -> None:
        self.store = store
        self.client = client
        self.write = write
        self.resync = resync

    def act(self, intent: Snapshot) -> None:
        """Do what the line asked."""
        name = intent.name or ""
        try:
            if intent.action == "list":
                names = self.store.names()
                self.write("snapshots: " + (" ".join(names) if names else "none yet"))
            elif intent.action == "save":
                path = self.store.save(name, self.client.dump())
                self.write(f"saved snapshot {name} ({path})")
            elif intent.action == "diff":
                self._diff(name, intent.other)
            else:
                self._load(name)
        except _NoSnapshot as exc:
            known = " ".join(self.store.names()) or "none yet"
            self.write(f'there is no snapshot "{exc.args[0]}" (snapshots: {known})')
        except (OSError, ValueError) as exc:
            self.write(f"error: snapshot {name}: {exc}")
        except EngineError as exc:
            self.write(f"error: {exc}")

    def _read(self, name: str) -> dict[str, Any]:
        try:
            return self.store.load(name)
        except FileNotFoundError:
            raise _NoSnapshot(name) from None

    def _diff(self, name: str, other: str | None) -> None:
        old = self._read(name)
        if other is None:
            lines = patch_diff(self.client.dump(), old)
            title = f"what loading {name} changes in the patch now"
            same = f"{name} is what plays now"
        else:
            lines = patch_diff(old, self._read(other))
            title = f"from {name} to {other}"
            same = f"{name} and {other} are the same"
        self.write(f"{title}:\n" + "\n".join(f"  {line}" for line in lines) if lines else same)

    def _load(self, name: str) -> None:
        data = self._read(name)
        current = self.client.dump()
        messages = load_messages(current, data)  # ValueError: malformed, or a plugin missing
        if not messages:
            self.write(f"snapshot {name} is what plays now: nothing to load")
            return
        changes = patch_diff(current, data)
        # A snapshot may start silent: its patterns play from their next step, not at once.
        outcome = commit_change(self.client, messages, CROSSFADE_MS, silence_ok=True)
        for _, args in outcome.notes:
            self.write(f"warning: {' '.join(str(a) for a in args)}")
        if not outcome.ok:
            self.write(f"error: snapshot {name} was not loaded: {outcome.text}")
            return
        self.resync()
        self.write(
            f"loaded snapshot {name}, crossfaded in {CROSSFADE_MS:g} ms (undo goes back)"
            + "".join(f"\n  {line}" for line in changes[:SHOWN])
            + (f"\n  … and {len(changes) - SHOWN} more" if len(changes) > SHOWN else "")
        )
        for note in plugin_notes(data):
            self.write(note)
