"""`warm_up`: what the parser builds on first use, built ahead, changes no answer.

Each case runs in a fresh interpreter (a subprocess), since the caches it fills live as long
as the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LINES = [
    "bass: c2 zz9 g2",
    "frobnicate the bass",
    "set bass cutof to 500 hz",
    "add a sawww",
    "lead: c4 . eb4 . g4",
    "tempo fast please",
]

CHILD = r"""
import json, sys
from chronus.lang.interpreter import Interpreter
from chronus.lang import parser
warm = sys.argv[1] == "warm"
if warm:
    parser.warm_up(["add a saw called bass", "bass: c2 . eb2 g2", "not a line at all", ""])
built = parser._examples.cache_info().currsize
interpreter = Interpreter()
interpreter.interpret("add a saw called bass through an acid filter")
interpreter.interpret("add a sine called lead")
answers = []
for line in json.loads(sys.argv[2]):
    answers.append(interpreter.interpret(line).to_json_dict())
print(json.dumps({"built": built, "answers": answers}))
"""


def _run(mode: str) -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, json.dumps(LINES)],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


def test_warm_up_builds_the_hints_table_and_changes_no_answer() -> None:
    cold, warm = _run("cold"), _run("warm")
    assert cold["built"] == 0, "the hints' table is built on first use only"
    assert warm["built"] == 1, "warm_up built the hints' table"
    assert warm["answers"] == cold["answers"]
    answers = warm["answers"]
    assert isinstance(answers, list)
    assert "zz9" in answers[0]["error"]["message"]
    assert answers[1]["error"]["hint"], "a hint from the examples table"
    assert answers[4]["ok"] and answers[4]["osc"], "a good pattern line is still taken"
