"""A new supervisor takes the running engine over on a real PortAudio device (JACK's dummy
driver), with real SIGKILLs: as `test_takeover_null.py`, and no underrun outside the audio
I/O's gap but those the host's stalls explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_jack
from tests.e2e.test_takeover_null import take_over_then_kill_the_rest

pytestmark = [pytest.mark.realtime, pytest.mark.slow]


def test_after_a_takeover_every_process_is_replaceable_on_jack(tmp_path: Path) -> None:
    require_jack()
    take_over_then_kill_the_rest(tmp_path, "device")
