"""A sandbox child's answer read by whoever holds its pipe (the pool): real child processes
that answer, die before answering, die mid-answer, answer garbage, answer twice or never end
each give a clean result; and through a real pool, a module that writes on the pipe its
child answers down, or kills that child, gives a clean `error_type` and the pool goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronus.plugins import answer
from chronus.plugins.answer import (
    STEAL_FROM_S,
    Deadline,
    host_steal,
    judge,
    run_delay,
    run_times,
)
from chronus.plugins.sandbox import SandboxPool
from chronus.plugins.worker import json_line, json_object

GOOD = Path(__file__).parent / "faulty" / "good.py"
ANSWER = {"ok": True, "error_type": "", "error_message": "", "figures": {"render_crc32": 7.0}}

CHILDREN = {
    "answers": f"w({json.dumps(ANSWER)!r})",
    "renders_the_same": f"w({json.dumps({'render_crc32': 7.0})!r})",
    "renders_otherwise": f"w({json.dumps({'render_crc32': 8.0})!r})",
    "dies_before_answering": "os.kill(os.getpid(), signal.SIGKILL)",
    "dies_mid_answer": f"w({json.dumps(ANSWER)[:9]!r}); os.kill(os.getpid(), signal.SIGSEGV)",
    "answers_garbage": "w('\\x00garbage\\n')",
    "answers_twice": f"w({json.dumps(ANSWER)!r}); w({json.dumps(ANSWER)!r})",
    "exits_without_answering": "os._exit(3)",
    "never_ends": f"w({json.dumps(ANSWER)!r}); time.sleep(60)",
    "spins": "while True: pass",
    "sleeps": "w('z'); time.sleep(60)",
}
"""Child programs; `w` writes down the answer's pipe (stdout)."""


class _Child:
    """A real child process answering down its stdout; its wait status read once."""

    def __init__(self, program: str) -> None:
        prelude = "import os, signal, time\nw = lambda s: os.write(1, s.encode())\n"
        self.process = subprocess.Popen([sys.executable, "-c", prelude + program],
                                        stdout=subprocess.PIPE)  # fmt: skip
        assert self.process.stdout is not None
        self.fd = self.process.stdout.fileno()
        self.killed = False

    def ending(self, finished: bool) -> int:
        if not finished:
            os.kill(self.process.pid, signal.SIGKILL)
            self.killed = True
        _, status = os.waitpid(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return status


@pytest.fixture
def spawn() -> Iterator[list[_Child]]:
    children: list[_Child] = []
    yield children
    for child in children:
        if child.process.returncode is None:
            child.process.kill()
            child.process.wait()
        assert child.process.stdout is not None
        child.process.stdout.close()


def _judge(spawn: list[_Child], first: str, twin: str | None = None, wait: float = 20.0) -> dict:
    started = [_Child(CHILDREN[name]) for name in (first, twin) if name is not None]
    spawn.extend(started)
    by_name = dict(zip(("spare", "twin"), started, strict=False))
    deadline = time.monotonic() + wait
    return judge(
        by_name["spare"].fd, by_name["twin"].fd if twin else None, deadline, 1.0, "m.py",
        lambda which, finished: by_name[which].ending(finished),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("first", "kind", "words"),
    [
        ("dies_before_answering", "crash", "SIGKILL"),
        ("dies_mid_answer", "crash", "SIGSEGV"),
        ("answers_garbage", "internal", "could not read"),
        ("answers_twice", "internal", "could not read"),
        ("exits_without_answering", "exit", "exit status 3"),
    ],
)
def test_a_child_that_gives_no_readable_answer_gives_a_clean_error(
    spawn: list[_Child], first: str, kind: str, words: str
) -> None:
    result = _judge(spawn, first)
    assert (result["ok"], result["error_type"]) == (False, kind), result
    assert words in result["error_message"]


def test_an_answer_is_taken_as_the_child_wrote_it(spawn: list[_Child]) -> None:
    assert _judge(spawn, "answers") == ANSWER
    assert _judge(spawn, "answers", "renders_the_same") == ANSWER


LINES = [
    json.dumps({**ANSWER, "error_message": 'é \\ " 🎛'}, ensure_ascii=False).encode() + b"\n",
    json.dumps(ANSWER).encode(),  # no newline: at EOF
    b" " + json.dumps(ANSWER).encode() + b"\n",
    b"\xef\xbb\xbf" + json.dumps(ANSWER).encode() + b"\n",  # a byte order mark
    json.dumps(ANSWER).encode("utf-16") + b"\n\x00",
    json.dumps(ANSWER).encode() + b"\n\n",
    json.dumps(ANSWER).encode() + b" x\n",
    json.dumps(ANSWER).encode() * 2 + b"\n",
    b'{"a": NaN, "b": [1, 2.5e300, null]}\n',
    b"[1, 2]\n",
    b'{"ok": tru\n',
    b"\xff{}\n",
    b"",
]


@pytest.mark.parametrize("line", LINES)
def test_an_answer_is_parsed_as_json_loads_parses_it(line: bytes) -> None:
    try:
        loaded = json.loads(line)
    except ValueError:
        loaded = None
    expected = loaded if isinstance(loaded, dict) else None
    assert json_object(line) == expected


@pytest.mark.parametrize(
    "message",
    [ANSWER, {"é": 'a "b" \\ 🎛', "n": [1, 2.5e300, None, float("nan"), -0.0], "x": {}}, {}],
)
def test_a_line_is_written_as_json_dumps_writes_it(message: dict[str, object]) -> None:
    assert json_line(message) == json.dumps(message).encode() + b"\n"


def test_a_child_that_answers_but_never_ends_is_killed_at_the_deadline(
    spawn: list[_Child],
) -> None:
    began = time.monotonic()
    result = _judge(spawn, "never_ends", wait=1.0)
    assert (result["ok"], result["error_type"]) == (False, "timeout")
    assert spawn[0].killed and time.monotonic() - began < 10


def _on_one_cpu(pid: int) -> None:
    os.sched_setaffinity(pid, {min(os.sched_getaffinity(0))})


def test_a_deadline_moves_on_by_what_a_child_waited_for_a_cpu_and_no_further(
    spawn: list[_Child],
) -> None:
    """Two spinning children on one CPU each wait about half the time: the deadline of the
    first moves on by its wait, capped at `most`; a sleeping child's does not move."""
    spinner, rival, sleeper = (_Child(CHILDREN[name]) for name in ("spins", "spins", "sleeps"))
    spawn.extend([spinner, rival, sleeper])
    for child in (spinner, rival):
        _on_one_cpu(child.process.pid)
    assert os.read(sleeper.fd, 1) == b"z"  # it is going to sleep; its start may have waited
    stat = Path(f"/proc/{sleeper.process.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
        time.sleep(0.01)
    started = run_delay(sleeper.process.pid)
    began = time.monotonic()
    moved = Deadline(began + 0.2, (spinner.process.pid,), most=10.0)
    capped = Deadline(began + 0.2, (spinner.process.pid,), most=0.05)
    still = Deadline(began + 0.2, (sleeper.process.pid,), most=10.0)
    time.sleep(1.0)
    waited = run_delay(spinner.process.pid)
    assert waited > 0.2  # about half of the second, on a CPU it shared with its rival
    for deadline in (moved, capped, still):
        deadline.left()
    assert moved.at >= began + 0.2 + 0.2
    assert capped.at == pytest.approx(began + 0.25)
    assert "the machine was too busy" in capped.account()  # it moved as far as it may
    assert "too busy" not in moved.account()
    assert still.at - (began + 0.2) < started + 0.05  # asleep, it waited for no CPU
    assert run_delay(2**22 + 12345) == 0.0  # no such process: nothing moves


def test_a_deadline_moves_on_by_the_cpu_a_child_used_beyond_its_limit(
    spawn: list[_Child],
) -> None:
    """CPU beyond the module's limit is numba's compiling (the child ends itself at the
    limit otherwise): it moves the deadline on, as waits for a CPU do."""
    spinner = _Child(CHILDREN["spins"])
    spawn.append(spinner)
    began = time.monotonic()
    counted = Deadline(began + 0.1, (spinner.process.pid,), most=10.0, cpu_limit=0.2)
    uncounted = Deadline(began + 0.1, (spinner.process.pid,), most=10.0)
    time.sleep(0.8)
    on_cpu, waited = run_times(spinner.process.pid)
    counted.left()
    uncounted.left()
    assert on_cpu > 0.3
    assert counted.at - uncounted.at >= on_cpu - 0.2 - 0.01
    assert counted.at <= began + 0.1 + on_cpu - 0.2 + waited + 0.2  # read ≤ 0.2 s later


def test_a_deadline_moves_on_by_the_time_the_hypervisor_held_the_cpus(
    spawn: list[_Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Time a virtual machine's CPUs were held by its host is neither a child's CPU time
    nor its wait (the kernel leaves steal out of both): the deadline moves on by it, and a
    timeout's message says how much there was. A quick job's clock reads none of it."""
    sleeper = _Child(CHILDREN["sleeps"])
    spawn.append(sleeper)
    assert os.read(sleeper.fd, 1) == b"z"
    steal, reads = [100.0], [0]

    def host_steal() -> float:
        reads[0] += 1
        return steal[0]

    monkeypatch.setattr(answer, "host_steal", host_steal)
    began = time.monotonic()
    deadline = Deadline(began + 0.2, (sleeper.process.pid,), most=10.0)
    assert 0 < deadline.left() <= STEAL_FROM_S  # it wakes its reader to read the steal
    assert reads[0] == 0
    time.sleep(STEAL_FROM_S + 0.02)
    assert deadline.left() > 0 and reads[0] == 1  # the first reading
    steal[0] += 0.7  # the host held the machine for 0.7 s, both CPUs counted
    time.sleep(0.2)
    assert deadline.left() > 0.4  # asleep, only the steal moved it
    assert deadline.at == pytest.approx(began + 0.2 + 0.7, abs=0.1)
    assert "the host held the machine's CPUs 0.70 s" in deadline.account()


def test_the_hosts_steal_is_read_from_the_kernel() -> None:
    first = host_steal()
    assert 0.0 <= first <= host_steal()  # seconds since boot: it only grows


def test_a_spinning_child_on_a_shared_cpu_is_read_to_its_answer_past_the_first_deadline(
    spawn: list[_Child],
) -> None:
    """A child kept off its CPU answers after the deadline it was first given, and its
    answer is taken: the waits moved the deadline on."""
    rival = _Child(CHILDREN["spins"])
    late = _Child("t = time.thread_time() + 0.4\nwhile time.thread_time() < t: pass\n"
                  f"w({json.dumps(ANSWER)!r})")  # fmt: skip
    spawn.extend([rival, late])
    for child in (rival, late):
        _on_one_cpu(child.process.pid)
    first = time.monotonic() + 0.5
    deadline = Deadline(first, (late.process.pid,), most=10.0)
    result = judge(late.fd, None, deadline, 1.0, "m.py", lambda _, finished: late.ending(finished))
    assert result == ANSWER and not late.killed
    assert deadline.at > first  # it did move: 0.4 s of CPU took ~0.8 s on a shared CPU


@pytest.mark.parametrize("twin", ["dies_before_answering", "answers_garbage", "answers_twice"])
def test_a_twin_that_gives_no_readable_answer_fails_the_validation_in_a_second_process(
    spawn: list[_Child], twin: str
) -> None:
    result = _judge(spawn, "answers", twin)
    assert (result["ok"], result["error_type"]) != (True, "")
    assert result["error_message"].startswith("in a second process: ")


def test_a_twin_whose_render_differs_is_non_deterministic(spawn: list[_Child]) -> None:
    result = _judge(spawn, "answers", "renders_otherwise")
    assert (result["ok"], result["error_type"]) == (False, "non_deterministic")


SCRIBBLER = '''
import os
import signal

from chronus.dsp.module import Processor
from chronus.dsp.params import mix_specs


def _written_pipes():
    """This process's fds open for writing on a pipe: the one its answer goes down."""
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
            flags = open(f"/proc/self/fdinfo/{name}").read().split("flags:")[1].split()[0]
        except (OSError, IndexError):
            continue
        if target.startswith("pipe:") and int(flags, 8) & 3 == os.O_WRONLY:
            yield int(name)


for fd in _written_pipes():
    os.write(fd, __WHAT__)
if __KILL__:
    os.kill(os.getpid(), signal.SIGKILL)


class Scribbler(Processor):
    PARAMS = mix_specs(0.0)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n]
'''


@pytest.mark.parametrize(
    ("what", "kill", "kind", "words"),
    [
        (b"garbage", False, "internal", "could not read"),
        (json.dumps(ANSWER).encode(), False, "internal", "could not read"),  # then its own
        (json.dumps(ANSWER)[:20].encode(), True, "crash", "SIGKILL"),
        (b"", True, "crash", "SIGKILL"),
    ],
    ids=["garbage", "twice", "dies-mid-answer", "dies-before-answering"],
)
def test_a_module_that_spoils_its_childs_answer_gets_a_clean_error_and_the_pool_goes_on(
    tmp_path: Path, what: bytes, kill: bool, kind: str, words: str
) -> None:
    path = tmp_path / "scribbler.py"
    path.write_text(SCRIBBLER.replace("__WHAT__", repr(what)).replace("__KILL__", str(kill)))
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        pids = pool.worker_pids()
        result = pool.validate(path, "scribbler")
        assert (result.ok, result.error_type) == (False, kind), result.error_message
        assert words in result.error_message
        assert pool.validate(GOOD, "softclip").ok
        assert (pool.worker_pids(), pool.replaced) == (pids, 0)
