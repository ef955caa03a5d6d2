"""The docs say what the code does: every address, every example script."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.protocol import ADDRESS_SPACE
from chronus.session.script import load_script_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spec", ADDRESS_SPACE, ids=lambda s: s.pattern)
def test_readme_documents_every_address(spec) -> None:
    assert f"`{spec.signature}`" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.chr")), ids=lambda p: p.name)
def test_every_example_script_loads(path: Path) -> None:
    script = load_script_file(path)
    assert script.messages and script.duration > 0


def test_readme_marks_exactly_one_test_command() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines()
             if line.endswith("  # the test command")]  # fmt: skip
    assert len(lines) == 1 and "pytest" in lines[0]
