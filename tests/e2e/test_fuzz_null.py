"""Fuzzing a live engine over UDP (null backend), driven by hypothesis: after any packets,
the engine answers, counts every datagram, sends an `/error` for each form the protocol
refuses, and nothing raises out of its handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate
from tests.osc_fuzz import predicted_errors
from tests.osc_strategies import packets


@pytest.fixture(scope="module")
def client(null_engine: EngineProcess) -> Iterator[EngineClient]:
    with null_engine.client() as c:
        c.send([
            validate("/patch/create", ("bass", "saw")),
            validate("/patch/connect", ("bass", "master")),
            validate("/seq/bass/pattern", ("c2 eb2 g2 c3",)),
        ])  # fmt: skip
        c.sync()
        yield c


def _osc(client: EngineClient) -> dict[str, int]:
    return dict(client.status()["engine"]["osc"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets(live=True), min_size=1, max_size=6))
def test_any_packets_are_counted_answered_and_survived(
    client: EngineClient, sent: list[bytes]
) -> None:
    before = _osc(client)
    for packet in sent:
        client.send_bytes(packet)
    client.sync(timeout=5.0)
    client.pending.clear()
    after = _osc(client)
    predicted = sum(predicted_errors(p)[0] for p in sent)
    passed = sum(predicted_errors(p)[1] for p in sent)
    dropped = after["kernel_drops"] - before["kernel_drops"]
    # the packets, the sync, and the status request after them
    assert after["received"] - before["received"] + dropped == len(sent) + 2
    errors = after["errors"] - before["errors"]
    assert predicted - dropped <= errors <= predicted + passed, (errors, predicted, passed)
    assert after["internal_errors"] == before["internal_errors"]


def test_the_engine_is_whole_after_the_fuzzing(
    client: EngineClient, null_engine: EngineProcess
) -> None:
    status = client.status()
    assert status["io"]["state"] == "running"
    assert all(s["state"] == "running" for s in status["slots"])
    assert status["engine"]["osc"]["internal_errors"] == 0
    assert null_engine.process is not None and null_engine.process.poll() is None
    assert not any("Traceback" in line for line in null_engine.notices)
