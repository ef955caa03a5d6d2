"""Shared fixtures: real engine processes on real UDP ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from chronus.engine.client import EngineProcess


@pytest.fixture(scope="session", autouse=True)
def _engines_write_in_the_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Engines started by tests may write (recordings, session logs) anywhere under pytest's
    temporary folder, where every `tmp_path` is: their files folder (`CHRONUS_FILES`)."""
    from chronus.engine.files import FILES_ENV

    before = os.environ.get(FILES_ENV)
    os.environ[FILES_ENV] = os.path.realpath(tmp_path_factory.getbasetemp())
    yield
    if before is None:
        del os.environ[FILES_ENV]
    else:
        os.environ[FILES_ENV] = before


@pytest.fixture(autouse=True)
def _catalogue_as_it_was() -> Iterator[None]:
    """Module types a test registered or declared (a plugin's, a fault's) are gone after it:
    the catalogue is global to the process, and the next test must see the built-ins only."""
    from chronus.dsp import specs

    before = set(specs.TYPE_SPECS)
    yield
    catalog = sys.modules.get("chronus.dsp.catalog")
    for module_type in [t for t in specs.TYPE_SPECS if t not in before]:
        if catalog is not None:
            catalog.MODULE_TYPES.pop(module_type, None)
        specs.undeclare(module_type)


@pytest.fixture(autouse=True)
def _sessions_kept_apart(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shell a test starts logs its session by default: into a folder of the test run's,
    never the user's own `~/.local/share/chronus/sessions` (engines inherit the variable)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))


def jack_running() -> bool:
    """Whether a JACK server answers (the realtime tests need one)."""
    if shutil.which("jack_lsp") is None:
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_jack() -> None:
    """Skip without JACK, except in CI (CHRONUS_REQUIRE_JACK=1), where that is a failure."""
    if jack_running():
        return
    if os.environ.get("CHRONUS_REQUIRE_JACK") == "1":
        pytest.fail("CHRONUS_REQUIRE_JACK=1 but no JACK server is running")
    pytest.skip("no JACK server running (start `jackd -d dummy -r 48000 -p 128`)")


@pytest.fixture(scope="module")
def private_link_network() -> Iterator[bool]:
    """The test module runs in a network of its own (`tests.private_network`), so that no
    Link peer of another test on this host joins its session: for modules whose assertions
    count on the peers they start themselves. Name it in `pytestmark`'s `usefixtures`, so it
    comes before the module's other fixtures (an engine must start inside it)."""
    from tests.private_network import private_network

    with private_network() as private:
        yield private


@pytest.fixture(scope="module")
def null_engine() -> Iterator[EngineProcess]:
    """`chronus engine --backend null` on a free port, for the whole test module."""
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def fault_engine_null() -> Iterator[EngineProcess]:
    """A null-backend engine that loads tests/faults.py (the fault_* types) through
    CHRONUS_MODULES, for the whole test module."""
    path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    env = {"CHRONUS_MODULES": "tests.faults", "PYTHONPATH": path}
    engine = EngineProcess(port=0, backend="null", env=env).boot()
    yield engine
    assert engine.quit() == 0
