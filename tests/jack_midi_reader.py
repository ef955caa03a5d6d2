"""A JACK MIDI input for tests: records every message with the frame it arrived on
(`last_frame_time + offset`, as JACK dates it), and optionally an engine's audio beside
it, on the same frames."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

_AUDIO_S = 30


@dataclass(frozen=True)
class Audio:
    """Mono audio as it arrived, from JACK frame `first_frame` on (each period at its
    frame: one the client missed is silence)."""

    first_frame: int
    samples: npt.NDArray[np.float32]


class MidiReader:
    """A JACK client `name` with one MIDI input, `name:in` (and `name:audio` with `audio`)."""

    def __init__(
        self, name: str = "chronus-test-midi", audio: bool = False, seconds: int = _AUDIO_S
    ) -> None:
        import jack

        self._jack = jack
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.midi_inports.register("in")
        self._audio_port = self.client.inports.register("audio") if audio else None
        self._buffer = np.zeros(seconds * self.client.samplerate, dtype=np.float32)
        self._written = 0
        self._first_frame = -1
        self._lock = threading.Lock()
        self._got: list[tuple[int, bytes]] = []
        self.client.set_process_callback(self._process)
        self.client.activate()

    @property
    def name(self) -> str:
        """The MIDI input's full JACK name."""
        return str(self.port.name)

    def _process(self, frames: int) -> None:
        cycle = self.client.last_frame_time
        got = [(cycle + offset, bytes(data)) for offset, data in self.port.incoming_midi_events()]
        if got:
            with self._lock:
                self._got += got
        if self._audio_port is not None and self._first_frame >= 0:
            if self._written == 0:
                self._first_frame = cycle
            start = cycle - self._first_frame  # a cycle this client missed stays silent
            if start + frames <= len(self._buffer):
                self._buffer[start : start + frames] = self._audio_port.get_array()
                self._written = start + frames

    def audio_clients(self) -> set[str]:
        """The JACK clients with audio outputs now (call before and after an engine boots:
        JACK cannot tell a client's process, so the engine's is the one that came)."""
        ports = self.client.get_ports(is_audio=True, is_output=True)
        return {port.name.split(":")[0] for port in ports}

    def listen_to(self, client: str) -> None:
        """Record the first audio output of `client` from the next period on."""
        assert self._audio_port is not None
        port = self.client.get_ports(f"^{client}:", is_audio=True, is_output=True)[0]
        self.client.connect(port, self._audio_port)
        self._first_frame = 0

    def messages(self) -> list[tuple[int, bytes]]:
        """(frame, message) of everything received so far, in order."""
        with self._lock:
            return list(self._got)

    def audio(self) -> Audio:
        """The audio recorded so far."""
        return Audio(self._first_frame, self._buffer[: self._written].copy())

    def close(self) -> None:
        """Leave JACK."""
        self.client.deactivate()
        self.client.close()

    def __enter__(self) -> MidiReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
