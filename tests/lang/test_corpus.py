"""The corpus: every line of `tests/lang/corpus.txt` maps to exactly its OSC, or fails where
and how the corpus says (its format is described at the top of the file)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chronus.lang.interpreter import Interpreter

CORPUS = Path(__file__).with_name("corpus.txt")


@dataclass(frozen=True)
class Case:
    number: int
    """1-based line of the corpus."""
    text: str
    osc: list[list[object]] | None
    column: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Block:
    setup: tuple[tuple[int, str, bool], ...]
    """(line number, input, is a setup) of every line before the case in its block."""
    case: Case


def _read() -> list[Block]:
    blocks: list[Block] = []
    before: list[tuple[int, str, bool]] = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            before = []
            continue
        if line.startswith("#"):
            continue
        if line.startswith("> "):
            before.append((number, line[2:], True))
            continue
        if " => " in line:
            text, _, expected = line.partition(" => ")
            case = Case(number, text, json.loads(expected))
        else:
            text, sep, rest = line.partition(" !! ")
            assert sep, f"corpus line {number} is neither a case nor a setup: {line!r}"
            column, _, message = rest.partition(" | ")
            case = Case(number, text, None, int(column), message)
        blocks.append(Block(tuple(before), case))
        before.append((number, text, False))
    return blocks


BLOCKS = _read()


def test_the_corpus_is_big_enough() -> None:
    failing = [b for b in BLOCKS if b.case.osc is None]
    assert len(BLOCKS) >= 1100
    assert len(failing) >= 200
    lines = CORPUS.read_text(encoding="utf-8").split("\n")
    spoken = next(n for n, line in enumerate(lines, start=1) if "issue 14:" in line)
    assert sum(1 for b in BLOCKS if b.case.number > spoken) >= 600  # as players talk


@pytest.mark.parametrize("block", BLOCKS, ids=[f"L{b.case.number}" for b in BLOCKS])
def test_corpus_line(block: Block) -> None:
    interpreter = Interpreter()
    for number, text, is_setup in block.setup:
        result = interpreter.interpret(text)  # earlier cases may fail on purpose
        assert result.ok or not is_setup, f"setup line {number}: {result.error}"
    case = block.case
    result = interpreter.interpret(case.text)
    if case.osc is not None:
        assert result.error is None, f"line {case.number}: {result.error and result.error.render()}"
        assert [m.to_list() for m in result.messages] == case.osc, f"line {case.number}"
    else:
        assert result.error is not None, f"line {case.number} should fail: {case.text!r}"
        assert result.messages == [] and result.intents == []
        assert result.error.column == case.column, result.error.render()
        assert case.message in result.error.message, result.error.render()


def _whole_blocks() -> list[list[str]]:
    """Every corpus block as the list of its inputs, in order."""
    last: dict[tuple[int, ...], Block] = {}
    for block in BLOCKS:
        first = block.setup[0][0] if block.setup else block.case.number
        last[(first,)] = block
    return [[text for _, text, _ in b.setup] + [b.case.text] for b in last.values()]


@pytest.mark.parametrize("lines", _whole_blocks(), ids=lambda lines: lines[0][:40])
def test_the_engine_patch_accepts_what_the_corpus_sends(lines: list[str]) -> None:
    """Every message of every good line is valid for the engine's own `Patch` (the same
    validation the supervisor runs), and the mirror ends up where the patch does."""
    from chronus.dsp.patch import Patch, PatchError
    from chronus.protocol import ENGINE_ONLY

    interpreter = Interpreter()
    patch = Patch()
    for text in lines:
        for message in interpreter.interpret(text).messages:
            if message.address in ENGINE_ONLY:
                continue
            try:
                patch.apply(message)
            except PatchError:
                # Raw OSC for a module the mirror does not know is the engine's to refuse.
                assert text.startswith("/") and message.fields.get("id") not in patch.modules
    engine = patch.to_dict()
    mirror = interpreter.context.to_dump()
    assert set(engine["modules"]) == set(mirror["modules"])
    for module_id, entry in engine["modules"].items():
        assert entry["params"] == pytest.approx(mirror["modules"][module_id]["params"])
    assert sorted(map(tuple, engine["connections"])) == sorted(map(tuple, mirror["connections"]))
    assert sorted(map(tuple, engine["modulations"])) == sorted(map(tuple, mirror["modulations"]))
    assert engine["tempo"] == mirror["tempo"]
    assert engine["transport"] == mirror["transport"]
    assert engine["tracks"] == mirror["tracks"]
