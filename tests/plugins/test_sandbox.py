"""The sandbox pool with real worker processes: every fault in `faulty/` gives its error type
and the pool goes on working; a killed worker is replaced; nothing makes it raise."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chronus.plugins import sandbox
from chronus.plugins.result import ERROR_TYPES, ValidationResult
from chronus.plugins.sandbox import SandboxPool, validate_file
from chronus.plugins.validation import CheckSettings
from chronus.plugins.worker import THREAD_ENV

FAULTY = Path(__file__).parent / "faulty"
GOOD = FAULTY / "good.py"

FAULTS = {
    "raises_in_process": ("exception", "ZeroDivisionError: oops in process (line 15)"),
    "raises_at_import": ("import_error", "RuntimeError: broken at import (line 3)"),
    "syntax_error": ("syntax_error", "line 4"),
    "no_module": ("no_module", "no Module subclass"),
    "bad_params": ("bad_params", "drive: default 50 outside 1–20"),
    "endless_loop": ("timeout", "time limit of 2 s"),
    "segfault": ("crash", "SIGSEGV"),
    "os_exit": ("exit", "exit status 3"),
    "system_exit": ("exit", "SystemExit('bye')"),
    "huge_allocation": ("memory", "memory limit"),
    "nan_output": ("non_finite", "NaN or infinite"),
    "non_deterministic": ("non_deterministic", "two fresh instances"),
    "unseeded_random": ("non_deterministic", "two fresh instances"),
    "seeded_at_import": ("non_deterministic", "in a second process the first test render"),
    "forgets_state": ("state_round_trip", "after state() at block 24"),
    "too_slow": ("too_slow", "over the budget of 667 µs"),
    "sleeps": ("too_slow", "process waits"),
    "fork_bomb": ("exception", "lets no module start a process"),
    "kills_worker": ("exception", "or signal another process"),
    "signals_the_engine": ("exception", "or signal another process"),
}
"""Each fixture: the error type it must give and a part of its message."""


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        yield pool


def test_every_fault_fixture_is_listed() -> None:
    files = {path.stem for path in FAULTY.glob("*.py")} - {"good", "good_source", "good_kernel"}
    assert files == set(FAULTS)
    assert {kind for kind, _ in FAULTS.values()} <= set(ERROR_TYPES)


def test_good_modules_pass_with_their_figures(pool: SandboxPool) -> None:
    result = pool.validate(GOOD, "softclip")
    assert result.ok, result.error_message
    assert (result.module_class, result.processor) == ("SoftClip", True)
    assert result.params == ("drive", "volume", "pan", "mute", "solo")
    assert result.figures["blocks"] == 96
    assert 0 < result.figures["cpu_us_p50"] <= result.figures["cpu_us_p99"]
    assert result.figures["peak_rss_mb"] > 0 and result.figures["import_ms"] > 0
    assert 0 < result.duration < 2.0
    handoffs = result.figures["request_ms"] + result.figures["answer_ms"]  # the child's, direct
    assert 0 < handoffs < 1000 * result.duration and result.figures["rehearsal_cut"] in (0, 1)
    source = pool.validate(FAULTY / "good_source.py", "beep")
    assert source.ok, source.error_message
    assert (source.module_class, source.processor) == ("Beep", False)
    kernel = pool.validate(FAULTY / "good_kernel.py", "fold")  # numba compiles in the child
    assert kernel.ok, kernel.error_message


@pytest.mark.parametrize("fixture", sorted(FAULTS))
def test_each_fault_gives_its_error_type_and_the_pool_goes_on(
    pool: SandboxPool, fixture: str
) -> None:
    kind, words = FAULTS[fixture]
    result = pool.validate(FAULTY / f"{fixture}.py", fixture)
    assert (result.ok, result.error_type) == (False, kind), result.error_message
    assert words in result.error_message
    assert pool.validate(GOOD, "softclip").ok


def test_a_module_can_signal_neither_the_worker_nor_the_engine(pool: SandboxPool) -> None:
    """The seccomp filter fails the signal: the worker lives on, the pool's process (here
    this one, in play the engine or the shell) receives nothing, the next module passes."""
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(signum))
    try:
        before, replaced = pool.worker_pids(), pool.replaced
        for name in ("kills_worker", "signals_the_engine"):
            result = pool.validate(FAULTY / f"{name}.py", name.replace("_", ""))
            assert (result.ok, result.error_type) == (False, "exception"), result.error_message
            assert pool.validate(GOOD, "softclip").ok
        assert (pool.worker_pids(), pool.replaced, received) == (before, replaced, [])
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_worker_killed_during_a_validation_is_replaced_and_the_module_not_blamed(
    pool: SandboxPool, tmp_path: Path
) -> None:
    """Killed from outside (no module in a sealed child can), the worker takes its children
    with it; the validation runs again on a new worker and gives the module's own result."""
    slow = tmp_path / "slow_import.py"
    slow.write_text("import time\ntime.sleep(0.8)\n" + GOOD.read_text())
    before, replaced = pool.worker_pids(), pool.replaced
    killer = threading.Timer(0.3, os.kill, (before[0], signal.SIGKILL))
    killer.start()
    result = pool.validate(slow, "slowimport")
    killer.join()
    assert result.ok, result.error_message
    assert pool.replaced == replaced + 1 and pool.worker_pids() != before


def test_where_children_are_not_sealed_a_worker_lost_is_the_modules_doing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a machine without the seccomp filter a module could kill its worker: the pool
    asks the worker after each job, and a worker lost during one is that module's crash."""
    receive = sandbox._Worker._receive

    def unsealed(worker: sandbox._Worker) -> object:
        got = receive(worker)
        if isinstance(got, sandbox._Children):
            got.sealed = False
        return got

    monkeypatch.setattr(sandbox._Worker, "_receive", unsealed)
    slow = tmp_path / "slow_import.py"
    slow.write_text("import time\ntime.sleep(0.8)\n" + GOOD.read_text())
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        assert pool.validate(GOOD, "softclip").ok  # the question asked, and answered
        before = pool.worker_pids()
        killer = threading.Timer(0.3, os.kill, (before[0], signal.SIGKILL))
        killer.start()
        result = pool.validate(slow, "slowimport")
        killer.join()
        assert (result.ok, result.error_type) == (False, "crash"), result.error_message
        assert "sandbox worker died" in result.error_message
        assert pool.validate(GOOD, "softclip").ok and pool.worker_pids() != before


def test_a_second_process_is_what_catches_state_taken_at_import(pool: SandboxPool) -> None:
    with SandboxPool(settings=CheckSettings(cross_process=False)) as one_process:
        assert one_process.validate(FAULTY / "seeded_at_import.py", "hiss").ok
    first = pool.validate(GOOD, "softclip")
    second = pool.validate(GOOD, "softclip")
    assert first.ok and first.figures["render_crc32"] == second.figures["render_crc32"]


def test_a_worker_killed_while_idle_is_replaced_before_the_next_job(pool: SandboxPool) -> None:
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    result = pool.validate(GOOD, "softclip")
    assert result.ok, result.error_message
    assert pool.worker_pids() != [pid]


def test_a_worker_that_stops_answering_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "ANSWER_GRACE", 0.5)
    with SandboxPool(time_limit=0.5) as pool:
        assert pool.wait_ready()
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGSTOP)
        result = pool.validate(GOOD, "softclip")
        if pool.replaced == 0:  # its children for it were handed over before it stopped
            result = pool.validate(GOOD, "softclip")
        assert result.ok, result.error_message  # on the new worker: not the module's fault
        assert pool.replaced == 1 and pool.worker_pids() != [pid]
        assert pool.validate(GOOD, "softclip").ok


def test_the_workers_outlive_the_thread_that_started_the_pool() -> None:
    pool = SandboxPool()
    starter = threading.Thread(target=pool.start)
    starter.start()
    starter.join()
    try:
        assert pool.wait_ready()
        pids = pool.worker_pids()
        time.sleep(0.2)
        assert pool.validate(GOOD, "softclip").ok
        assert (pool.worker_pids(), pool.replaced) == (pids, 0)
    finally:
        pool.close()


def test_the_memory_limit_is_room_beyond_what_the_warm_worker_maps(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    path.write_text(
        GOOD.read_text().replace(
            "        self._init_params()",
            "        self._table = np.zeros(200 * 1024 * 1024 // 8)\n        self._init_params()",
            1,
        )
    )
    with SandboxPool(memory_mb=512) as roomy:
        assert roomy.validate(path, "big").ok  # 2 × 200 MB fit in 512 beyond the worker's
    with SandboxPool(memory_mb=128) as tight:
        result = tight.validate(path, "big")
    assert (result.ok, result.error_type) == (False, "memory")


def test_a_worker_that_cannot_start_says_why_and_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "WORKER_ARGS", ("-c", 'print(\'{"error": "no numba"}\')'))
    with SandboxPool() as pool:
        for _ in range(2):
            result = pool.validate(GOOD, "softclip")
            assert (result.ok, result.error_type) == (False, "internal")
            assert result.error_message == "a sandbox worker did not start: no numba"
        assert pool.replaced >= 2
    monkeypatch.setattr(sandbox, "WORKER_ARGS", ("-c", "pass"))
    result = validate_file(GOOD, "softclip")
    assert (result.ok, result.error_type) == (False, "internal")
    assert "did not say it was ready" in result.error_message


def test_status_is_plain_data(pool: SandboxPool) -> None:
    status = pool.status()
    assert json.loads(json.dumps(status)) == status
    (worker,) = status["workers"]
    assert worker["ready"] and worker["pid"] == pool.worker_pids()[0] and worker["vm_mb"] > 0
    assert (status["time_limit"], status["memory_mb"], status["closed"]) == (2.0, 512.0, False)
    assert status["cpu_budget_us"] == pytest.approx(666.7)


def test_a_fork_bomb_starts_no_process(pool: SandboxPool) -> None:
    (worker,) = pool.worker_pids()
    result = pool.validate(FAULTY / "fork_bomb.py", "bomb")
    assert result.error_type == "exception" and "Operation not permitted" in result.error_message
    spare, twin = _spares(worker)  # the two waiting for the next job, no other
    for pid in (spare, twin):
        assert Path(f"/proc/{pid}/task/{pid}/children").read_text().split() == []


def _spares(worker: int) -> list[str]:
    """The worker's children once there are two (the spare and the twin for the next job)."""
    children = Path(f"/proc/{worker}/task/{worker}/children")
    deadline = time.monotonic() + 5
    while len(children.read_text().split()) != 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the answer comes before the children are reaped and the next forked
    return children.read_text().split()


def _waiting_sealed(pid: str) -> bool:
    """Whether child `pid` is sealed (no core file, no new process) and has no job's limits
    yet; False if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        limits = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return False
    return (
        "\nSeccomp:\t2\n" in status
        and "\nNoNewPrivs:\t1\n" in status
        and re.search(r"Max core file size\s+0\s+0", limits) is not None
        and re.search(r"Max processes\s+1\s+1", limits) is not None
        and re.search(r"Max address space\s+unlimited", limits) is not None
        and re.search(r"Max cpu time\s+unlimited", limits) is not None
    )


def _story(pid: str) -> str:
    """What a child's seal and limits are, for a failure's message."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    except OSError:
        return f"{pid}: gone"
    said = [line for line in status if line.startswith(("State", "Seccomp:", "NoNewPrivs"))]
    named = ("Max core", "Max processes", "Max address", "Max cpu")
    said += [" ".join(line.split()) for line in limits if line.startswith(named)]
    return f"{pid}: " + "; ".join(said)


def test_the_spares_are_sealed_before_their_job_and_limited_by_it(pool: SandboxPool) -> None:
    # The seccomp filter costs up to ms in a fresh fork: off the clock, while a spare waits.
    assert pool.validate(GOOD, "softclip").ok
    (worker,) = pool.worker_pids()
    children = Path(f"/proc/{worker}/task/{worker}/children")
    deadline = time.monotonic() + 30  # a worker held off its CPU by another test's load
    while time.monotonic() < deadline:  # the children of the last job go, the next two come
        spares = children.read_text().split()
        if len(spares) == 2 and all(map(_waiting_sealed, spares)):
            break
        time.sleep(0.01)
    assert len(spares) == 2 and all(map(_waiting_sealed, spares)), [_story(pid) for pid in spares]
    assert pool.validate(FAULTY / "huge_allocation.py", "huge").error_type == "memory"
    assert pool.validate(FAULTY / "endless_loop.py", "loop").error_type == "timeout"


def test_the_worker_runs_one_thread(pool: SandboxPool) -> None:
    (worker,) = pool.worker_list()
    assert worker.wait_ready()
    assert worker.ready is not None and worker.ready["threads"] == 1
    assert worker.ready["vm_mb"] > 0


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: tmp / "missing.py", "import_error"),
        (lambda tmp: tmp, "import_error"),
        (lambda tmp: _write(tmp / "binary.py", bytes(range(256)) * 4), "syntax_error"),
        (lambda tmp: _write(tmp / "latin.py", b"x = '\xe9'\n"), "syntax_error"),
        (lambda tmp: _write(tmp / "empty.py", b""), "no_module"),
    ],
    ids=["missing", "directory", "binary", "not-utf8", "empty"],
)
def test_bad_files_give_a_result_never_an_exception(
    pool: SandboxPool, tmp_path: Path, make: object, kind: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = pool.validate(path, "bad")
    assert (result.ok, result.error_type) == (False, kind), result.error_message
    assert result.error_message


def test_an_unreadable_file_gives_a_result(pool: SandboxPool, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = _write(tmp_path / "secret.py", GOOD.read_bytes())
    path.chmod(0)
    result = pool.validate(path, "secret")
    assert (result.ok, result.error_type) == (False, "import_error")
    assert "Permission denied" in result.error_message


def test_a_file_that_cannot_be_opened_even_by_root_gives_a_result(
    pool: SandboxPool, tmp_path: Path
) -> None:
    path = tmp_path / "s.py"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))  # open() of a socket fails, whoever asks
        result = pool.validate(path, "sock")
    assert (result.ok, result.error_type) == (False, "import_error")
    assert result.error_message.startswith(f"cannot read {path}")


def test_a_fifo_that_never_ends_times_out(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    with SandboxPool(time_limit=0.5) as short:
        result = short.validate(fifo, "fifo")
    assert (result.ok, result.error_type) == (False, "timeout")
    # blocked, neither on a CPU nor waiting for one: the message gives its clocks, so that a
    # module's wait can be told from a busy host's
    told = r"its processes spent [0-9.]+ s on a CPU and [0-9.]+ s waiting for one; .* held"
    assert re.search(told, result.error_message), result.error_message


def test_validations_queued_at_once_on_one_worker_all_give_the_same_verdict() -> None:
    # A job with another waiting runs in children forked without a rehearsal; the last, and
    # one after a pause, in rehearsed ones: the same checks either way.
    # (the name the other tests give this file: numba's cache of a kernel names its module)
    results: list[ValidationResult] = []
    finished = threading.Semaphore(0)

    def done(result: ValidationResult) -> None:
        results.append(result)
        finished.release()

    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        for _ in range(3):
            pool.submit(FAULTY / "good_kernel.py", "fold", done)
        for _ in range(3):
            assert finished.acquire(timeout=30)
        time.sleep(0.5)
        results.append(pool.validate(FAULTY / "good_kernel.py", "fold"))
    assert all(result.ok for result in results), [r.error_message for r in results]
    assert len({result.figures["render_crc32"] for result in results}) == 1


def test_a_bad_plugin_name_is_refused(pool: SandboxPool) -> None:
    result = pool.validate(GOOD, "Bad Name")
    assert (result.ok, result.error_type) == (False, "import_error")
    assert "not a plugin name" in result.error_message


def test_submit_answers_every_job_from_a_pool_thread() -> None:
    got: list[tuple[str, bool, str]] = []
    all_done = threading.Event()
    files = [GOOD, FAULTY / "nan_output.py", FAULTY / "good_source.py", FAULTY / "os_exit.py"]

    def done(result: ValidationResult) -> None:
        got.append((threading.current_thread().name, result.ok, result.error_type))
        if len(got) == len(files):
            all_done.set()

    with SandboxPool(workers=2) as pool:
        for path in files:
            pool.submit(path, "x", done)
        assert all_done.wait(30)
    assert sorted((ok, kind) for _, ok, kind in got) == [
        (False, "exit"), (False, "non_finite"), (True, ""), (True, ""),
    ]  # fmt: skip
    assert all(name.startswith("sandbox-") for name, _, _ in got)


def test_a_callback_that_raises_does_not_stop_the_pool() -> None:
    with SandboxPool() as pool:
        pool.submit(GOOD, "softclip", lambda result: 1 / 0)  # type: ignore[func-returns-value]
        assert pool.validate(GOOD, "softclip").ok


def test_validate_from_a_callback_answers_at_once_instead_of_waiting_for_itself() -> None:
    inner: list[ValidationResult] = []
    finished = threading.Event()

    with SandboxPool(workers=1) as pool:

        def done(result: ValidationResult) -> None:
            inner.append(pool.validate(GOOD, "softclip"))
            finished.set()

        pool.submit(GOOD, "softclip", done)
        assert finished.wait(30)
        assert pool.validate(GOOD, "softclip").ok
    assert (inner[0].ok, inner[0].error_type) == (False, "internal")
    assert "submit instead" in inner[0].error_message


def test_a_closed_pool_answers_internal_without_raising() -> None:
    pool = SandboxPool().start()
    pool.close()
    pool.close()
    result = pool.validate(GOOD, "softclip")
    assert (result.ok, result.error_type) == (False, "internal")
    assert "closed" in result.error_message


def test_closing_the_pool_ends_a_validation_under_way_at_once() -> None:
    got: list[ValidationResult] = []
    finished = threading.Event()
    pool = SandboxPool(time_limit=30.0).start()
    assert pool.wait_ready()

    def done(result: ValidationResult) -> None:
        got.append(result)
        finished.set()

    pool.submit(FAULTY / "endless_loop.py", "loop", done)
    time.sleep(0.5)
    began = time.monotonic()
    pool.close()
    assert time.monotonic() - began < 10 and finished.wait(5)
    assert (got[0].ok, got[0].error_type) == (False, "internal")
    assert "closed during the validation" in got[0].error_message


def test_validate_runs_in_the_callers_thread_when_a_worker_is_idle_and_queues_when_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran_in: list[str] = []
    real_run = sandbox._run

    def run(*args: object, **kwargs: object) -> object:
        ran_in.append(threading.current_thread().name)
        return real_run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox, "_run", run)
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        assert pool.validate(FAULTY / "nan_output.py", "x").error_type == "non_finite"
        assert ran_in == [threading.current_thread().name]
        got: list[ValidationResult] = []
        caller = threading.Thread(target=lambda: got.append(pool.validate(GOOD, "softclip")))
        with pool._busy[0]:  # the worker runs another job
            caller.start()
            time.sleep(0.3)
            assert ran_in[1:] == [] and not got
        caller.join(30)
        assert got[0].ok, got[0].error_message
        assert ran_in[1:] == ["sandbox-0"]
        assert pool.validate(GOOD, "softclip").ok and ran_in[2:] == [ran_in[0]]
        assert pool.status()["queued"] == 0 and pool.replaced == 0


def test_validations_back_to_back_find_the_children_a_pool_thread_received_ahead() -> None:
    """The caller waited on the worker's socket for children that `prefetch` (a pool thread)
    had just taken: it saw nothing till its deadline and only then found them — 11 s for a
    validation of a few ms, 3 of 6 back to back in the ci16 run. None may wait out its
    deadline (the bound is that deadline, not a speed)."""
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        for _ in range(8):
            began = time.monotonic()
            result = pool.validate(FAULTY / "syntax_error.py", "x")
            assert result.error_type == "syntax_error", result.error_message
            assert time.monotonic() - began < sandbox.wall_limit(pool.time_limit)
        assert pool.replaced == 0


def test_a_bug_in_the_callers_thread_gives_internal_and_a_fresh_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SandboxPool(workers=1) as pool:
        assert pool.wait_ready()
        (pid,) = pool.worker_pids()
        with monkeypatch.context() as patch:
            patch.setattr(sandbox, "_run", lambda *args: 1 / 0)
            result = pool.validate(GOOD, "softclip")
        assert (result.ok, result.error_type) == (False, "internal")
        assert "ZeroDivisionError" in result.error_message
        assert pool.replaced == 1 and pool.worker_pids() != [pid]
        assert pool.validate(GOOD, "softclip").ok


def test_closing_the_pool_ends_a_validation_in_the_callers_thread_at_once() -> None:
    got: list[ValidationResult] = []
    pool = SandboxPool(time_limit=30.0).start()
    assert pool.wait_ready()
    caller = threading.Thread(target=lambda: got.append(pool.validate(FAULTY / "endless_loop.py",
                                                                      "loop")))  # fmt: skip
    caller.start()
    time.sleep(0.5)
    began = time.monotonic()
    pool.close()
    caller.join(10)
    assert time.monotonic() - began < 10 and got
    assert (got[0].ok, got[0].error_type) == (False, "internal")
    assert "closed during the validation" in got[0].error_message
    assert not any(worker.alive() for worker in pool.worker_list())


def test_validate_file_runs_one_validation_without_a_pool() -> None:
    assert validate_file(GOOD, "softclip").ok
    result = validate_file(FAULTY / "segfault.py", "segv")
    assert (result.ok, result.error_type) == (False, "crash")


def test_the_time_limit_is_the_pools_setting() -> None:
    with SandboxPool(time_limit=0.5) as pool:
        assert pool.wait_ready()
        began = time.monotonic()
        result = pool.validate(FAULTY / "endless_loop.py", "loop")
        took = time.monotonic() - began
    assert result.error_type == "timeout" and "0.5 s" in result.error_message
    # Stopped by the pool's limit: 1 s of the loop's CPU (RLIMIT_CPU counts whole seconds) or
    # 1.5 s on the clock, moved on by what the loop waited for a CPU on a busy host; not the
    # default's 2 s of CPU and 6 s on the clock plus the grace.
    assert took < 4.0


def test_limits_and_settings_changed_after_the_workers_started_are_carried_by_the_request() -> None:
    # A worker is told its pool's limits and settings once; a request carries what differs.
    with SandboxPool() as pool:
        assert pool.wait_ready()
        assert pool.validate(GOOD, "softclip").ok
        pool.settings = CheckSettings(cpu_budget=1e-9)
        slow = pool.validate(GOOD, "softclip")
        pool.settings, pool.time_limit = CheckSettings(), 0.5
        looped = pool.validate(FAULTY / "endless_loop.py", "loop")
        assert pool.validate(GOOD, "softclip").ok
    assert slow.error_type == "too_slow", slow.error_message
    assert looped.error_type == "timeout" and "0.5 s" in looped.error_message


@pytest.mark.parametrize("path", ["/m/fold.py", '/m/a "quoted" \\ dir/é ü 🎛/fold\n.py'])
def test_a_request_from_the_template_is_the_line_json_would_write(path: str) -> None:
    # The worker's own limits and settings: a template spliced; others: what differs, encoded.
    told = {"memory_mb": 512.0, "time_limit": 2.0, "settings": {"cross_process": True}}
    worker: Any = SimpleNamespace(carried=told)
    line = sandbox._Worker._wire(worker, path, "fold_2", told)
    sent = json.loads(line)
    assert line == (json.dumps({"path": path, "name": "fold_2", "sent_at": sent["sent_at"]})
                    + "\n").encode()  # fmt: skip
    assert sent["sent_at"] <= time.monotonic() and line.isascii() and line.count(b"\n") == 1
    other = {**told, "time_limit": 0.5}
    wire = sandbox._Worker._wire
    assert set(json.loads(wire(worker, path, "y", other))) == {"path", "name", "time_limit",
                                                               "sent_at"}  # fmt: skip
    equal = {**told}  # equal but not the worker's own object: nothing differs
    assert set(json.loads(wire(worker, path, "x", equal))) == {"path", "name", "sent_at"}


def test_a_path_is_made_absolute_as_abspath_does_a_relative_one_from_the_directory_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert sandbox._absolute("m.py") == str(tmp_path / folder / "m.py")
    odd = f"{tmp_path}//x/./../m.py"
    for path in (odd, odd, Path(odd), Path(odd)):  # the second time remembered
        assert sandbox._absolute(path) == os.path.abspath(odd) == str(tmp_path / "m.py")


def test_a_path_with_quotes_backslashes_and_accents_reaches_the_child(
    pool: SandboxPool, tmp_path: Path
) -> None:
    folder = tmp_path / 'a "quoted" \\ dir é 🎛'
    folder.mkdir()
    good = _write(folder / "good.py", GOOD.read_bytes())
    broken = _write(folder / "broken.py", (FAULTY / "syntax_error.py").read_bytes())
    result = pool.validate(good, "softclip")
    assert result.ok and result.module_class == "SoftClip", result.error_message
    failed = pool.validate(broken, "broken")
    assert failed.error_type == "syntax_error" and "line 4" in failed.error_message


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


REHEARSING = """
import json, os, sys, time
from chronus.plugins import answer, validation, worker

def broken(*args, **kwargs):
    yield
    raise RuntimeError("the rehearsal broke")

def endless(*args, **kwargs):
    while True:
        time.sleep(0.01)
        yield

validation.rehearsal = {"broken": broken, "endless": endless}[sys.argv[2]]
request = {"path": sys.argv[1], "name": "softclip", "time_limit": 5.0, "memory_mb": 512}
children = {"spare": worker.Spare.fork(), "twin": worker.Spare.fork(twin=True)}
began = time.monotonic()
for which, child in children.items():
    assert child.wait_ready(30)
    sent = {**request, "crc_only": which == "twin"}
    os.write(child.request_fd, json.dumps(sent).encode() + b"\\n")
result = answer.judge(
    children["spare"].result_fd, children["twin"].result_fd, began + answer.wall_limit(5.0),
    5.0, sys.argv[1], lambda which, finished: children[which].ending(finished),
)
result["duration"] = time.monotonic() - began
print(json.dumps(result))
"""


@pytest.mark.parametrize("rehearsal", ["broken", "endless"])
def test_a_spare_validates_whatever_its_rehearsal_does(rehearsal: str) -> None:
    # A failed rehearsal only stops; a request stops one that has not ended (within a step).
    env = {**os.environ, **THREAD_ENV}
    done = subprocess.run(
        [sys.executable, "-c", REHEARSING, str(GOOD), rehearsal], capture_output=True,
        text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["ok"], result
    assert result["duration"] < 5.0  # not the deadline (15 s): the endless one was stopped


STATE_OF = """
import json, os, sys, time
from chronus.plugins import answer, worker

def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"
"""
"""A script's start: `state(pid)`, a process's state letter ("Z" a zombie), or "gone"."""

REAPING = (
    STATE_OF
    + """
spare = worker.Spare.fork(rehearse=False)
assert spare.wait_ready(30)
spare.close(reap=False)
deadline = time.monotonic() + 10
while state(spare.pid) != "Z" and time.monotonic() < deadline:
    time.sleep(0.01)
killed = state(spare.pid)
worker.reap_ended()
print(json.dumps([killed, state(spare.pid)]))
"""
)


def test_a_closed_spare_is_left_to_reap_until_the_worker_has_forked_the_next() -> None:
    # Its exit takes ms (a 300 MB address space): the worker forks the next ones meanwhile.
    env = {**os.environ, **THREAD_ENV}
    done = subprocess.run(
        [sys.executable, "-c", REAPING], capture_output=True, text=True, timeout=60, env=env,
        check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == ["Z", "gone"]


LINGERING = (
    STATE_OF
    + """
def until_ended(pid, limit):
    began = time.monotonic()
    while state(pid) not in ("Z", "gone") and time.monotonic() - began < limit:
        time.sleep(0.002)
    return time.monotonic() - began

request = {"path": sys.argv[1], "name": "softclip", "time_limit": 5.0, "memory_mb": 512}
seen = {}
for closed in (True, False):
    spare = worker.Spare.fork(rehearse=False)
    assert spare.wait_ready(30)
    os.write(spare.request_fd, json.dumps(request).encode() + b"\\n")
    _, whole, got = answer.read_until(spare.result_fd, time.monotonic() + 30)
    after_answer = state(spare.pid)
    time.sleep(0.05)
    still = state(spare.pid)
    if closed:  # as the pool does once it has the answer
        worker._close_end(spare.request_fd)
        spare.request_fd = -1
    took = until_ended(spare.pid, 5.0)
    status = spare.wait()
    seen[str(closed)] = {"ok": bool(got and got["ok"]), "whole": whole,
                         "after_answer": after_answer, "still": still, "took": took,
                         "code": os.waitstatus_to_exitcode(status)}
    spare.close()
print(json.dumps(seen))
"""
)


def test_a_child_that_answered_sleeps_until_its_request_pipe_closes() -> None:
    # Its exit (a fork's mappings torn down, ms) would run on the CPU the caller was just
    # woken on, ahead of it: it waits asleep till the pool is done, then exits on its own.
    env = {**os.environ, **THREAD_ENV}
    done = subprocess.run(
        [sys.executable, "-c", LINGERING, str(GOOD)], capture_output=True, text=True,
        timeout=60, env=env, check=True,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    for closed, child in seen.items():
        assert child["ok"] and child["whole"], (closed, child)
        assert child["after_answer"] in ("S", "R") and child["still"] == "S", (closed, child)
        assert child["code"] == 0, (closed, child)
    assert seen["True"]["took"] < 0.2, seen  # the pool closed its pipe: it ends at once
    assert 0.3 < seen["False"]["took"] < 0.5 + 2.0, seen  # or by itself, after `LINGER_S`
