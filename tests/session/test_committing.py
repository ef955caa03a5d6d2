"""A change through the commit flow, against a fake engine: staged, committed, asked again
while the slots are being replaced, dropped when refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronus.engine.client import EngineClient
from chronus.engine.commit import IN_PROGRESS, NO_STANDBY, STANDBY_DIED
from chronus.protocol import validate
from chronus.session import committing
from chronus.session.committing import commit_change
from tests.shell.fake_engine import FakeEngine

CHANGE = [validate("/patch/create", ("x", "saw")), validate("/mod/x/cutoff", (800.0,))]


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine()
    yield fake
    fake.close()


def _sent(engine: FakeEngine) -> list[str]:
    return [a for a in engine.addresses() if not a.startswith("/engine/")]


def test_a_change_is_staged_then_committed_with_its_crossfade(engine: FakeEngine) -> None:
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE, 80.0, silence_ok=True)
    assert outcome.ok and outcome.text == "switched at block 0"
    assert _sent(engine) == ["/patch/begin", "/patch/create", "/mod/x/cutoff", "/patch/commit"]
    assert engine.wait_for("/patch/commit") == (80.0, 1)


@pytest.mark.parametrize("why", [NO_STANDBY, IN_PROGRESS])
def test_a_commit_that_cannot_start_yet_is_asked_again(engine: FakeEngine, why: str) -> None:
    engine.commit_refusals = [why, why]
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert outcome.ok
    assert _sent(engine).count("/patch/commit") == 3 and "/patch/abort" not in _sent(engine)


def test_a_refused_commit_drops_the_staged_change(engine: FakeEngine) -> None:
    engine.commit_refusals = ["it produced 3 non-finite samples"]
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert not outcome.ok and outcome.text == "it produced 3 non-finite samples"
    assert _sent(engine)[-2:] == ["/patch/commit", "/patch/abort"]


def test_a_commit_whose_standby_died_is_sent_once_more(engine: FakeEngine) -> None:
    """It changed nothing and the engine replaces the slot: staged and committed again."""
    engine.commit_refusals = [f"commit failed: {STANDBY_DIED}; nothing changed"]
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert outcome.ok
    assert _sent(engine).count("/patch/begin") == 2 and _sent(engine).count("/patch/create") == 2


def test_a_commit_whose_standby_dies_twice_fails_and_says_why(engine: FakeEngine) -> None:
    died = f"commit failed: {STANDBY_DIED}; nothing changed"
    engine.commit_refusals = [died, died]
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert not outcome.ok and STANDBY_DIED in outcome.text
    assert _sent(engine).count("/patch/begin") == 2


def test_the_wait_for_a_standby_does_not_eat_the_started_commits_answer(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refusals while the slots are replaced are answers: a commit that starts only after
    longer than the answer's window still has the whole window for its own answer."""
    monkeypatch.setattr(committing, "_ANSWER_S", 0.3)
    engine.commit_refusals = [NO_STANDBY] * 10  # ~0.5 s of asking again, 50 ms apart
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert outcome.ok
    assert _sent(engine).count("/patch/commit") == 11


def test_a_standby_that_never_comes_ends_the_wait_and_drops_the_change(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committing, "_STANDBY_WAIT_S", 0.3)
    engine.commit_refusals = [NO_STANDBY] * 1000
    with EngineClient(*engine.address) as client:
        outcome = commit_change(client, CHANGE)
    assert not outcome.ok and outcome.text == NO_STANDBY
    assert 3 <= _sent(engine).count("/patch/commit") <= 7
    assert _sent(engine)[-1] == "/patch/abort"
