"""Supervisor restarts, measured: SIGKILL the supervisor while a bass line plays, N times.

For each kill (once the parent holds a standby supervisor warm): how long until the engine
answers `/engine/status` again on the same port (`answer_ms`: TCP, tried every 10 ms), how
long until a change is taken again (`command_ms`: `/mod/bass/amp` then `/engine/sync` over
TCP, tried every 10 ms until no `/error` came back; the reply names the sample it applies
at, and `applied_ms` adds the time until the device reached that sample), and the blocks
lost meanwhile (`lost`: the audio I/O's underruns from just before the kill to
1 s after the answer), set against the host stalls a SCHED_FIFO 99 sleeper on each CPU saw
in that time (`tests/stalls.py`). The target (issue 17): 0 blocks lost, an answer within 1 s.

`gap_sent` / `gap_applied`: from the kill until the answer, a second client sends a
`/patch/create` of a silent module over UDP every 10 ms; how many of those modules the new
supervisor's patch holds (they are removed again after each kill). Since the parent holds the
engine's sockets across supervisors, datagrams sent in the gap wait for the new one.

`renewal_ms` is how long until neither slot process is one the dead supervisor started (the
new one replaces them with workers it has a pipe to, one at a time, from a warm spare: a
commit waits for that). `--busy N` runs N busy loops meanwhile, a loaded host.

With `--isolated`, the bass line plays through a user module hosted `isolated` (the test
gain): its host dies with the supervisor, and `hosts_ms` is how long until a new supervisor's
host serves its ring (a running host with a new pid, polled every 10 ms); the module is
bypassed meanwhile.

    python benchmarks/supervisor_restart.py --kills 5
    python benchmarks/supervisor_restart.py --kills 3 --isolated
    python benchmarks/supervisor_restart.py --kills 4 --busy 4
    python benchmarks/supervisor_restart.py --backend device --kills 10 --json
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError, EngineProcess
from chronus.engine.parent import MAX_RESTARTS, RESTART_WINDOW_S
from chronus.protocol import validate
from tests.plugins.modules import write_gain
from tests.sessions import answer, bass_line, wait_status
from tests.stalls import StallMonitor

BLOCK_MS = 1000 * 128 / 48000
POLL_S = 0.01


@contextlib.contextmanager
def _sending_in_the_gap(engine: EngineProcess, kill: int) -> Iterator[list[str]]:
    """Send a `/patch/create` over UDP every `POLL_S` while the block runs; the names sent."""
    sent: list[str] = []
    done = threading.Event()
    sender = EngineClient(engine.host, engine.port)

    def send() -> None:
        while not done.is_set():
            name = f"gap{kill}x{len(sent)}"
            sender.send([validate("/patch/create", (name, "sine"))])
            sent.append(name)
            done.wait(POLL_S)

    thread = threading.Thread(target=send)
    thread.start()
    try:
        yield sent
    finally:
        done.set()
        thread.join()
        sender.close()


def _answer_s(client: EngineClient, timeout: float = 30.0) -> tuple[float, dict[str, Any]]:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(EngineError):  # refused at once while no supervisor listens
            status = client.status(timeout=1.0)  # a loaded machine can take 10 ms to reply
            return time.monotonic() - began, status
        time.sleep(POLL_S)
    raise SystemExit(f"no answer within {timeout:g} s of the kill")


def _command_s(client: EngineClient, kill: int, timeout: float = 30.0) -> tuple[float, int]:
    """How long until a change is taken again (no `/error`); the sample it applies at."""
    began = time.monotonic()
    message = validate("/mod/bass/amp", (0.5 + 0.01 * (kill % 10),))
    while time.monotonic() - began < timeout:
        with contextlib.suppress(EngineError):
            client.send([message])
            stamp, replies = client.sync(timeout=1.0)
            if not any(reply[0] == "/error" for reply in replies):
                return time.monotonic() - began, stamp
        time.sleep(POLL_S)
    raise SystemExit(f"no change taken within {timeout:g} s of the kill")


def _applied_s(client: EngineClient, stamp: int, block: int) -> float:
    """How long until the device has played the block holding `stamp`, from now."""
    began = time.monotonic()
    while client.status()["io"]["blocks_played"] * block <= stamp:
        time.sleep(POLL_S)
    return time.monotonic() - began


def _warm(status: dict[str, Any]) -> bool:
    return bool(status["engine"]["supervisor"]["standby"])


def _host_pid(client: EngineClient) -> int:
    """The pid of the gain module's host if it serves, else 0."""
    host = client.plugin_health("gain").get("hosts", {}).get("g", {})
    return int(host["host_pid"]) if host.get("host_state") == "running" else 0


def _isolated_engine(folder: Path, backend: str) -> tuple[EngineProcess, EngineClient]:
    """An engine whose bass line plays through the gain, hosted isolated, once it serves."""
    write_gain(folder, 1.0)
    engine = EngineProcess(
        port=0, backend=backend,
        extra_args=["--plugin-store", str(folder / "store"), "--modules", str(folder)],
    ).boot()  # fmt: skip
    client = engine.client()
    client.send_raw("/plugins/load", "gain", "", 1, "isolated")
    if answer(client, "/plugins/loaded", 120.0)[0] != "/plugins/loaded":
        raise SystemExit("the gain module did not load")
    client.send([
        validate("/patch/create", ("bass", "saw")), validate("/patch/create", ("g", "gain")),
        validate("/patch/connect", ("bass", "g")), validate("/patch/connect", ("g", "master")),
        validate("/seq/bass/pattern", ("c2 eb2 g2 c3",)), validate("/seq/start", ()),
    ])  # fmt: skip
    _hosts_s(client, 0)
    return engine, client


def _hosts_s(client: EngineClient, old: int, timeout: float = 120.0) -> float:
    """How long until the gain's host serves with a pid other than `old`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(EngineError):
            if _host_pid(client) not in (0, old):
                return time.monotonic() - began
        time.sleep(POLL_S)
    raise SystemExit(f"no host served within {timeout:g} s")


def _ms(value: float | None) -> str:
    return "never (90 s)" if value is None else f"{value:.0f} ms"


def _slot_pids(status: dict[str, Any]) -> set[int]:
    return {int(slot["pid"]) for slot in status["slots"]}


def _renewed_at(client: EngineClient, old: set[int], timeout: float = 90.0) -> float | None:
    """When (monotonic) no slot process was one of `old` (None: not within `timeout`)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(EngineError):
            if not _slot_pids(client.status(timeout=2.0)) & old:
                return time.monotonic()
        time.sleep(0.1)
    return None


@contextlib.contextmanager
def _busy_loops(count: int) -> Iterator[None]:
    """`count` processes that spin, a loaded host."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            while True:
                pass
        pids.append(pid)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def main() -> None:
    """Kill the supervisor `--kills` times; print each restart and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--backend", choices=("null", "device"), default="null")
    parser.add_argument("--isolated", action="store_true", help="through an isolated module")
    parser.add_argument("--busy", type=int, default=0, help="busy loops meanwhile")
    add_json_flag(parser)
    args = parser.parse_args()
    spacing = RESTART_WINDOW_S / MAX_RESTARTS + 0.5  # the parent gives up on a faster loop
    folder = Path(tempfile.mkdtemp(prefix="chronus-restart-"))
    with figures_out(args.json) as figures:
        if args.isolated:
            engine, client = _isolated_engine(folder, args.backend)
        else:
            engine = EngineProcess(port=0, backend=args.backend).boot()
            client = engine.client()
            client.send(bass_line())
        hosts: list[float] = []
        answers: list[float] = []
        commands: list[float] = []
        applies: list[float] = []
        lost: list[int] = []
        stalls: list[int] = []
        renewals: list[float | None] = []
        gap_sent: list[int] = []
        gap_applied: list[int] = []
        busy = contextlib.ExitStack()
        try:
            busy.enter_context(_busy_loops(args.busy))
            client.sync(timeout=10.0)
            last_kill = 0.0
            for kill in range(args.kills):
                before = wait_status(client, _warm, timeout=120.0)
                time.sleep(max(0.0, last_kill + spacing - time.monotonic()))
                before = client.status()
                old_host = _host_pid(client) if args.isolated else 0
                adopted = _slot_pids(before)
                with StallMonitor() as host:
                    last_kill = time.monotonic()
                    os.kill(before["engine"]["supervisor"]["pid"], signal.SIGKILL)
                    with _sending_in_the_gap(engine, kill) as sent:
                        answered, after = _answer_s(client)
                    taken, stamp = _command_s(client, kill)
                    applied = _applied_s(client, stamp, after["engine"]["block"])
                    if args.isolated:
                        _hosts_s(client, old_host)
                        hosts.append(1e3 * (time.monotonic() - last_kill))
                        print(f"kill {kill + 1}: the isolated module's host served again after "
                              f"{hosts[-1]:.0f} ms", file=sys.stderr)  # fmt: skip
                    time.sleep(1.0)
                    later = client.status()
                modules = client.dump(timeout=10.0)["modules"]
                kept = [name for name in sent if name in modules]
                client.send([validate("/patch/remove", (name,)) for name in kept])
                client.sync(timeout=10.0)
                gap_sent.append(len(sent))
                gap_applied.append(len(kept))
                renewed = _renewed_at(client, adopted)
                renewals.append(None if renewed is None else 1e3 * (renewed - last_kill))
                assert after["engine"]["supervisor"]["restarts"] == kill + 1
                assert later["engine"]["supervisor"]["holds_slots"]
                answers.append(1e3 * answered)
                commands.append(1e3 * (answered + taken))
                applies.append(1e3 * (answered + taken + applied))
                lost.append(later["io"]["underruns"] - before["io"]["underruns"])
                stalls.append(host.blocks_bound(BLOCK_MS))
                played = later["io"]["sounding_blocks"] - before["io"]["sounding_blocks"]
                print(
                    f"kill {kill + 1}: answered after {answers[-1]:.0f} ms, a change taken "
                    f"after {commands[-1]:.0f} ms and heard from {applies[-1]:.0f} ms; "
                    f"{lost[-1]} blocks "
                    f"lost (host stalls could explain {stalls[-1]}); {played} sounding blocks "
                    f"since; slots renewed after {_ms(renewals[-1])}; of {gap_sent[-1]} "
                    f"datagrams sent until the answer {gap_applied[-1]} applied",
                    file=sys.stderr,
                )
        finally:
            code = engine.quit()
            busy.close()
        load = os.getloadavg()[0]
        print(
            f"{args.kills} kills ({args.backend}): answer median {statistics.median(answers):.0f}"
            f" ms, max {max(answers):.0f} ms; change taken median "
            f"{statistics.median(commands):.0f} ms, max {max(commands):.0f} ms; heard median "
            f"{statistics.median(applies):.0f} ms, max {max(applies):.0f} ms; "
            f"blocks lost {sum(lost)} (host stalls could "
            f"explain {sum(stalls)}); datagrams sent in the gap {sum(gap_sent)}, applied "
            f"{sum(gap_applied)}; engine exit code {code}; load {load:.1f}"
        )
        figures.update(
            kills=args.kills,
            backend=args.backend,
            answer_median_ms=statistics.median(answers),
            answer_max_ms=max(answers),
            command_median_ms=statistics.median(commands),
            command_max_ms=max(commands),
            applied_median_ms=statistics.median(applies),
            applied_max_ms=max(applies),
            blocks_lost=sum(lost),
            blocks_explained_by_host_stalls=sum(stalls),
            exit_code=code,
            load=load,
            busy_loops=args.busy,
            renewal_ms=renewals,
            gap_sent=sum(gap_sent),
            gap_applied=sum(gap_applied),
        )
        print(f"slots renewed after: {', '.join(map(_ms, renewals))} (busy loops: {args.busy})")
        if hosts:
            print(f"isolated module's host serving again: median {statistics.median(hosts):.0f} "
                  f"ms, max {max(hosts):.0f} ms")  # fmt: skip
            figures.update(hosts_median_ms=statistics.median(hosts), hosts_max_ms=max(hosts))


if __name__ == "__main__":
    main()
