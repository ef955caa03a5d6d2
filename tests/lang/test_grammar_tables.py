"""The parser tables shipped in grammar/tables, and the cache beside them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lark
import pytest

from chronus.lang.parser import TABLES_DIR, grammar_dir, grammar_text, tables_name

SHIPPED = grammar_dir() / TABLES_DIR
CHILD = """
from chronus.lang.interpreter import Interpreter
result = Interpreter().interpret("add a saw bass through an acid filter; play c2 every 8th on bass")
print(len(result.messages), result.error)
"""


def test_the_shipped_tables_are_those_of_this_grammar() -> None:
    versions = (SHIPPED / "VERSIONS").read_text(encoding="utf-8").strip()
    here = f"lark {lark.__version__}, python {sys.version_info[0]}.{sys.version_info[1]}"
    if versions != here:
        pytest.skip(f"tables shipped for {versions}; this is {here} (they are rebuilt here)")
    shipped = sorted(path.name for path in SHIPPED.glob("grammar-*"))
    assert shipped == [tables_name(grammar_text())], (
        "the grammar changed: run python -c "
        '"from chronus.lang.parser import write_shipped_tables as w; print(w())"'
    )


def _interpret_in_a_child(cache_home: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True,
        env={"XDG_CACHE_HOME": str(cache_home), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return out.stdout.strip()


def test_a_damaged_cached_table_is_passed_over(tmp_path: Path) -> None:
    folder = tmp_path / "chronus"
    folder.mkdir()
    (folder / tables_name(grammar_text())).write_bytes(b"not a pickle at all")
    assert _interpret_in_a_child(tmp_path) == "6 None"
