"""The docs say what the code does: every address, every example script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chronus.plugins.result import ERROR_TYPES
from chronus.protocol import ADDRESS_SPACE
from chronus.session.script import load_script_file
from chronus.session.wav import read_wav

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


MODULES_DOC = ROOT / "docs" / "MODULES.md"


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text."""
    return [block.split("\n```", 1)[0] for block in text.split("```python\n")[1:]]


def test_modules_doc_explains_every_validation_error() -> None:
    text = MODULES_DOC.read_text()
    for error_type in ERROR_TYPES:
        assert f"| `{error_type}` |" in text, error_type


def test_modules_walk_through_quotes_fold_as_it_is_and_its_script_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that starts with an import is a script, run here as a reader would from the
    project's root (in a copy of it that has the examples); every other block is an excerpt of
    examples/modules/fold.py, word for word."""
    fold = (ROOT / "examples" / "modules" / "fold.py").read_text()
    blocks = python_blocks(MODULES_DOC.read_text())
    scripts = [b for b in blocks if b.startswith(("from ", "import "))]
    excerpts = [b for b in blocks if b not in scripts]
    assert len(excerpts) >= 6 and len(scripts) == 1
    for excerpt in excerpts:
        assert excerpt in fold, excerpt
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(scripts[0], str(MODULES_DOC), "exec"), {})
    played, rate = read_wav(tmp_path / "fold-demo.wav")
    assert rate == 48000 and played.shape == (96000, 2)
    assert 0.5 < np.abs(played).max() <= 1.0
