"""One door: nothing in `chronus/` calls a module's `process` but the guard.

An AST walk over every source file finds each call of `.process(`, `.process_stereo(` or
`.process_mono(`; any outside `chronus/dsp/guard.py` fails the test with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chronus"
GUARD = PACKAGE / "dsp" / "guard.py"
DOORS = frozenset({"process", "process_stereo", "process_mono"})
OTHER_DOORS = {
    PACKAGE / "plugins" / "host.py": "the plugin host process, outside the slots: a call that "
    "raises or writes a non-finite sample is bypassed there and counted (`HOST_ERRORS`)",
    PACKAGE / "plugins" / "isolated.py": "the stand-in's warm-up, on built-in modules",
}
"""Files that call a module's process outside the slots' guard, and why that is a door too."""


def unguarded_calls(source: str, filename: str) -> list[str]:
    """`file:line: call` for each call of a module's process method in `source`."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DOORS
        ):
            found.append((node.lineno, f"{filename}:{node.lineno}: .{node.func.attr}("))
    return [text for _, text in sorted(found)]


def test_every_process_call_in_chronus_goes_through_the_guard() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert GUARD in files and len(files) > 50
    calls = []
    assert set(OTHER_DOORS) <= set(files)
    for path in files:
        if path != GUARD and path not in OTHER_DOORS:
            name = str(path.relative_to(ROOT))
            calls += unguarded_calls(path.read_text(encoding="utf-8"), name)
    assert not calls, "calls of a module's process outside chronus/dsp/guard.py:\n" + "\n".join(
        calls
    )


def test_the_guard_itself_holds_the_calls() -> None:
    """The walk sees calls where they are: the guard has all three doors."""
    calls = unguarded_calls(GUARD.read_text(encoding="utf-8"), "guard.py")
    assert {call.rsplit(".", 1)[1] for call in calls} == {f"{door}(" for door in DOORS}


def test_the_walk_catches_an_unguarded_call() -> None:
    source = (
        "def render(graph, module, out, n):\n"
        "    graph.guard.source(None, module, out, n)\n"
        "    module.process(out, n)\n"
        "    getattr(module, 'process')\n"
        "    graph.nodes[0].module.process_stereo(out, out, n)\n"
        "    process_mono(out, out, n)\n"
    )
    assert unguarded_calls(source, "chronus/x.py") == [
        "chronus/x.py:3: .process(",
        "chronus/x.py:5: .process_stereo(",
    ]
