"""The seccomp filter of a sandbox child, in a real forked process: it may signal itself,
never another process, and it may not start one."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from chronus.plugins.confine import seal


def _in_a_sealed_fork() -> dict[str, str]:
    """What each attempt gave in a sealed child: "ok" or the errno's name."""
    parent = os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            os.setpgid(0, 0)  # as a spare: a group of its own
            outcome: dict[str, str] = {"sealed": str(seal()["seccomp"])}
            attempts = {
                "kill the parent": lambda: os.kill(parent, 0),
                "kill its group": lambda: os.killpg(os.getpgid(parent), 0),
                "kill everyone": lambda: os.kill(-1, 0),
                "signal itself": lambda: os.kill(os.getpid(), 0),
                "signal its own group": lambda: os.kill(0, 0),
                "signal its own thread": lambda: signal.pthread_kill(threading.get_ident(), 0),
                "fork": lambda: os._exit(0) if os.fork() == 0 else None,
            }
            for what, attempt in attempts.items():
                try:
                    attempt()
                    outcome[what] = "ok"
                except OSError as exc:
                    outcome[what] = os.strerror(exc.errno or 0)
            os.write(write, json.dumps(outcome).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(data)


def test_a_sealed_child_signals_only_itself_and_starts_no_process() -> None:
    outcome = _in_a_sealed_fork()
    if outcome.pop("sealed") != "True":
        pytest.skip("no seccomp filter on this machine or kernel")
    denied = os.strerror(1)  # EPERM
    assert outcome == {
        "kill the parent": denied,
        "kill its group": denied,
        "kill everyone": denied,
        "signal itself": "ok",
        "signal its own group": "ok",
        "signal its own thread": "ok",
        "fork": denied,
    }
