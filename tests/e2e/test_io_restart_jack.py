"""The audio I/O replaced on a real PortAudio device (JACK's dummy driver), with real SIGKILLs.

As `test_io_restart_null.py`: notes play, the audio I/O process is killed twice, and each
time a warm spare I/O (`CHRONUS_IO_SPARE=warm`) or a standby (JACK's default) takes over the
device and resumes on the sample clock; the recording equals the offline render of the
session log wherever it was played.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_jack
from tests.e2e.test_io_restart_null import kill_the_io_twice

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


@pytest.mark.parametrize("standby", [False, True], ids=["spare", "standby"])
def test_two_sigkills_of_the_audio_io_on_jack(
    tmp_path: Path, standby: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a spare that opens the device when told, and with a standby that runs the
    device, silent, while it waits (JACK's default)."""
    require_jack()
    monkeypatch.setenv("CHRONUS_IO_SPARE", "standby" if standby else "warm")
    kill_the_io_twice(tmp_path, "device")
