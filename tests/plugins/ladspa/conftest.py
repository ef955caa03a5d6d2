"""LADSPA test plugins built with the system C compiler, and the real plugins' libraries.

Without a C compiler, `ladspa.h` (Debian: ladspa-sdk) or the real plugins (swh-plugins,
tap-plugins), the tests that need them skip, except in CI (`CHRONUS_REQUIRE_LADSPA=1`),
where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent / "crash.c"
SYSTEM = Path("/usr/lib/ladspa")
TAP_REVERB = SYSTEM / "tap_reverb.so"
SWH_PLATE = SYSTEM / "plate_1423.so"


def require(what: str, present: bool) -> None:
    """Skip without `what`, except in CI, where that fails."""
    if present:
        return
    if os.environ.get("CHRONUS_REQUIRE_LADSPA") == "1":
        pytest.fail(f"CHRONUS_REQUIRE_LADSPA=1 but {what} is missing")
    pytest.skip(f"{what} is missing (apt install ladspa-sdk swh-plugins tap-plugins cmt gcc)")


def build(target: Path, *defines: str) -> Path:
    """Compile crash.c into the library `target`."""
    compiler = shutil.which("cc")
    require("a C compiler (cc)", compiler is not None)
    require("ladspa.h", Path("/usr/include/ladspa.h").is_file())
    assert compiler is not None
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", *defines, "-o", str(target),
                    str(SOURCE)], check=True, capture_output=True, timeout=60)  # fmt: skip
    return target


@pytest.fixture(scope="session")
def test_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LADSPA folder with crash.so (labels `crash` and `drift`)."""
    folder = tmp_path_factory.mktemp("ladspa")
    build(folder / "crash.so")
    return folder


@pytest.fixture(scope="session")
def crash_library(test_plugins: Path) -> Path:
    """The library with the plugins `crash` and `drift`."""
    return test_plugins / "crash.so"


@pytest.fixture
def real_plugins() -> None:
    """Skip unless TAP's reverb and SWH's plate are installed."""
    require("tap-plugins and swh-plugins", TAP_REVERB.is_file() and SWH_PLATE.is_file())
