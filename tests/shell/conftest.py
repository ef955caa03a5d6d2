"""One null engine for every shell test (booting one takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronus.engine.client import EngineProcess


@pytest.fixture(scope="package")
def null_engine() -> Iterator[EngineProcess]:
    """`chronus engine --backend null` on a free port, shared by tests/shell."""
    engine = EngineProcess(port=0, backend="null").boot()
    yield engine
    engine.quit()
