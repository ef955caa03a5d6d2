"""How long a new isolated module waits for its host: `/patch/create` to the host serving,
and a host SIGKILLed to its successor serving.

    python benchmarks/host_start.py [--plugin fold|tap_reverb] [--creates 10] [--pause 1]
                                    [--store DIR] [--direct [--fork]] [--json]

A null-backend engine loads the example module `fold` isolated (or the TAP reverberator, a
native LADSPA plugin, isolated as every native plugin is), then creates `--creates` modules
of it, `--pause` seconds apart and each once the spare hosts are warm (no plugin host process
used CPU for a second: on a loaded machine a new process can take many seconds to import
numpy and numba), and times each create to its host's state `running` in
`/plugins/<name>/health` (polled every 2 ms: the figures include up to one poll and one tick
of the supervisor's loop, 10 ms). Then it SIGKILLs each module's host once and times the kill
to a new host running. Until a host runs the slots bypass the module. `spawn_ms` is the
keeper's own figure: its `go` to the host's "serving". With `--direct`, no engine: the
supervisor's `HostedModules` runs in this process, ticked every 10 ms (no plugin validation,
no OSC, no slots). Timings on a shared machine are noisy: measure again on a quiet machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus.engine.client import EngineClient, EngineProcess
from chronus.protocol import validate
from tests.sessions import answer

FOLD = Path(__file__).resolve().parents[1] / "examples" / "modules" / "fold.py"
TAP_REVERB = "/usr/lib/ladspa/tap_reverb.so#tap_reverb"
_TIMEOUT_S = 20.0


def _host(client: EngineClient, plugin: str, module_id: str) -> dict[str, Any]:
    return dict(client.plugin_health(plugin).get("hosts", {}).get(module_id, {}))


def _until(client: EngineClient, plugin: str, module_id: str, done: Callable[..., bool]) -> float:
    """Seconds until the module's host health satisfies `done` (nan: not within 20 s)."""
    began = time.monotonic()
    while time.monotonic() - began < _TIMEOUT_S:
        if done(_host(client, plugin, module_id)):
            return time.monotonic() - began
        time.sleep(0.002)
    return float("nan")


def _host_cpu() -> dict[int, int]:
    """CPU ticks used so far by each spare plugin host process below this one (and each
    process started by multiprocessing that has not set its title yet: a host importing);
    a host serving a ring is busy with it."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    hosts: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])
        spare = title.startswith(b"chronus: plugin host") and b"(" in title  # not serving
        if spare or b"spawn_main" in title:  # or a process not titled yet (a host importing)
            hosts.add(pid)
    mine = os.getpid()

    def below(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == mine:
                return True
        return False

    return {pid: ticks[pid] for pid in hosts if below(pid)}


def _settle(tick: Callable[[], object] = lambda: None, timeout: float = 90.0) -> None:
    """Wait (ticking) until the spare hosts are warm: there is one, and no spare host below
    this process used any CPU for 0.5 s, twice in a row. On a loaded machine a fixed pause
    is not enough."""
    end = time.monotonic() + timeout
    before, calm = _host_cpu(), 0
    while calm < 2 and time.monotonic() < end:
        for _ in range(50):
            tick()
            time.sleep(0.01)
        now = _host_cpu()
        calm = calm + 1 if now == before and now else 0  # a spare there, and idle
        before = now


def _running(host: dict[str, Any]) -> bool:
    return host.get("host_state") == "running"


def _respawned(pid: int, host: dict[str, Any]) -> bool:
    """Whether `host` runs again, in a process other than `pid`."""
    return _running(host) and host["host_pid"] != pid


def _load(client: EngineClient, plugin: str) -> None:
    if plugin == "fold":
        client.send_raw("/plugins/load", str(FOLD), "fold", 0, "isolated")
    else:
        client.send_raw("/plugins/load", TAP_REVERB, plugin)
    address, args = answer(client, "/plugins/loaded", 60.0)
    assert address == "/plugins/loaded", (address, args)


def measure(plugin: str, creates: int, pause: float, store: str = "") -> dict[str, Any]:
    """Each create's and each respawn's wait for its host, in seconds (`store`: the plugin
    store, where numba caches a user module's kernels; a new one if not given)."""
    made: list[float] = []
    respawned: list[float] = []
    spawn_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="chronus-host-start-") as temporary:
        store = store or temporary
        engine = EngineProcess(port=0, backend="null", extra_args=["--plugin-store", store])
        engine.boot()
        try:
            with engine.client() as client:
                _load(client, plugin)
                time.sleep(pause)
                _settle()  # the spares warm
                for index in range(creates):
                    module_id = f"m{index}"
                    client.send([validate("/patch/create", (module_id, plugin))])
                    made.append(_until(client, plugin, module_id, _running))
                    spawn_ms.append(float(_host(client, plugin, module_id).get("spawn_ms", 0.0)))
                    time.sleep(pause)
                    _settle()
                for index in range(creates):
                    module_id = f"m{index}"
                    pid = int(_host(client, plugin, module_id).get("host_pid", 0))
                    if pid <= 0:  # not running (0 would signal this whole process group)
                        respawned.append(float("nan"))
                        continue
                    os.kill(pid, signal.SIGKILL)
                    respawned.append(
                        _until(client, plugin, module_id,
                               lambda h, pid=pid: h.get("host_state") == "running"
                               and h.get("host_pid") not in (0, pid))
                    )  # fmt: skip
                    time.sleep(pause)
                    _settle()
        finally:
            engine.quit()
    return {
        "plugin": plugin,
        "creates": creates,
        "create_to_serving_ms": _figures(made),
        "kill_to_serving_ms": _figures(respawned),
        "first_spawn_ms": _figures([ms / 1000 for ms in spawn_ms]),
    }


def measure_direct(plugin: str, creates: int, pause: float, fork: bool = False) -> dict[str, Any]:
    """The same without an engine: the supervisor's `HostedModules` in this process, ticked
    every 10 ms as its serve loop does (no validation, no OSC; no slots submit calls). With
    `fork`, its hosts are forked from a warm template (as in an engine), else spawned. The
    longest tick is told too: a tick that forks waits for the template."""
    from chronus.engine.hosted import HostedModules
    from chronus.engine.launcher import Launcher, spawn_context
    from chronus.plugins.source import version_of
    from chronus.plugins.type_source import TypeSource, resolve_type

    if plugin == "fold":
        source = TypeSource("user", "fold", str(FOLD), version_of(FOLD.read_bytes()))
    else:
        path, label = TAP_REVERB.split("#")
        source = TypeSource("ladspa", plugin, path, label=label)
    params = len(resolve_type(source).PARAMS)
    launcher = Launcher(spawn_context(), 48000, 128, template=fork)
    launcher.wait_ready(120.0)
    starts = launcher.start_warm if launcher.warm_forks else None
    hosted = HostedModules(f"chr_host_start_{os.getpid()}", 48000, 128, starts)
    ticks: list[float] = []

    def tick() -> None:
        began = time.perf_counter()
        hosted.tick()
        ticks.append(time.perf_counter() - began)

    made: list[float] = []
    respawned: list[float] = []
    spawn_ms: list[float] = []
    respawn_ms: list[float] = []

    def until(module_id: str, done: Callable[[dict[str, Any]], bool]) -> float:
        began = time.monotonic()
        while time.monotonic() - began < _TIMEOUT_S:
            tick()
            if done(hosted.health().get(module_id, {})):
                return time.monotonic() - began
            time.sleep(0.01)
        return float("nan")

    def idle(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tick()
            time.sleep(0.01)
        _settle(tick)

    try:
        hosted.host(plugin, source, params)
        idle(pause)
        for index in range(creates):
            hosted.created(f"m{index}", plugin)
            made.append(until(f"m{index}", _running))
            spawn_ms.append(float(hosted.health()[f"m{index}"]["spawn_ms"]))
            idle(pause)
        for index in range(creates):
            pid = int(hosted.health()[f"m{index}"]["host_pid"])
            if pid <= 0:  # not running (0 would signal this whole process group)
                respawned.append(float("nan"))
                continue
            os.kill(pid, signal.SIGKILL)
            respawned.append(until(f"m{index}", functools.partial(_respawned, pid)))
            respawn_ms.append(float(hosted.health()[f"m{index}"]["spawn_ms"]))
            idle(pause)
    finally:
        hosted.close()
        launcher.close()
    return {
        "plugin": plugin,
        "creates": creates,
        "direct": True,
        "forked": starts is not None,
        "tick_ms": {
            "p50": round(1000 * statistics.median(ticks), 2),
            "max": round(1000 * max(ticks), 1),
        },
        "create_to_serving_ms": _figures(made),
        "kill_to_serving_ms": _figures(respawned),
        "first_spawn_ms": _figures([ms / 1000 for ms in spawn_ms]),
        "respawn_spawn_ms": _figures([ms / 1000 for ms in respawn_ms]),
    }


def _figures(seconds: list[float]) -> dict[str, Any]:
    timed = sorted(1000 * s for s in seconds if s == s)
    if not timed:
        return {"all": [], "missed": len(seconds)}
    return {
        "p50": round(statistics.median(timed), 1),
        "p99": round(timed[min(len(timed) - 1, int(0.99 * len(timed)))], 1),
        "max": round(timed[-1], 1),
        "missed": len(seconds) - len(timed),
        "all": [round(t, 1) for t in timed],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", choices=("fold", "tap_reverb"), default="fold")
    parser.add_argument("--creates", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--store", default="", help="the plugin store (default: a new one)")
    parser.add_argument("--direct", action="store_true", help="no engine: `HostedModules` here")
    parser.add_argument("--fork", action="store_true", help="with --direct: hosts forked warm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.direct:
        figures = measure_direct(args.plugin, args.creates, args.pause, args.fork)
    else:
        figures = measure(args.plugin, args.creates, args.pause, args.store)
    if args.json:
        print(json.dumps(figures))
        return
    for key in ("create_to_serving_ms", "kill_to_serving_ms", "first_spawn_ms"):
        f = figures[key]
        print(f"{args.plugin} {key}: p50 {f.get('p50')} p99 {f.get('p99')} "
              f"max {f.get('max')} missed {f['missed']} (n={len(f['all'])})")  # fmt: skip


if __name__ == "__main__":
    main()
