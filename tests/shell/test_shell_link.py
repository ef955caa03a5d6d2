"""`link on`, `link quantum 8`, `link sync on`, `link`, `link off` and `health` at the shell, a real
engine behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronus.engine.client import EngineProcess
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.shell.app import Shell

pytestmark = pytest.mark.serial  # its engine joins the Link session that other tests measure


@pytest.fixture(scope="module")
def private_engine(private_link_network: bool) -> Iterator[EngineProcess]:
    """An engine of its own, in a network of its own: it joins no other test's Link session
    (whose peers and start/stop this test would see)."""
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()


def test_link_goes_on_takes_a_quantum_shows_in_health_and_goes_off(
    private_engine: EngineProcess,
) -> None:
    client = private_engine.client()
    written: list[str] = []
    shell = Shell(client, Interpreter(Context.from_dump(client.dump())), written.append)
    try:
        assert shell.handle("link on")
        assert written[-1].startswith("link: on · ") and "quantum 4" in written[-1], written
        assert shell.handle("link quantum 8")
        assert "quantum 8" in written[-1], written
        assert "start/stop" not in written[-1]
        assert shell.handle("link sync on")
        assert "quantum 8 · start/stop sync (stopped)" in written[-1], written
        assert shell.handle("health")
        assert "link: on · " in written[-1]
        shown = len(written)
        assert shell.handle("link")  # where it stands, changing nothing
        assert len(written) == shown + 1 and "quantum 8 · start/stop sync" in written[-1]
        assert shell.handle("link off")
        assert written[-1] == "link: off", written
        assert shell.handle("link")
        assert written[-1] == "link: off", written
        assert shell.handle("health")
        assert "link: on" not in written[-1]
    finally:
        client.close()
