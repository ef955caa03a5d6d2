"""Who holds a port, read from a made-up /proc and from this machine's own."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from chronus.engine.port_owner import engine_of, holders, in_use_text

_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue ... uid  timeout inode\n"


def _socket_line(port: int, state: str, inode: int) -> str:
    queues = "00000000:00000000 00:00000000 00000000"
    return f"   0: 0100007F:{port:04X} 00000000:0000 {state} {queues}  1000        0 {inode} 1\n"


def _process(
    proc: Path, pid: int, parent: int, cmdline: str, sockets: tuple[int, ...] = ()
) -> None:
    folder = proc / str(pid)
    (folder / "fd").mkdir(parents=True)
    (folder / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
    (folder / "stat").write_text(f"{pid} (python3) S {parent} {pid} {pid} 0 -1\n")
    (folder / "comm").write_text("python3\n")
    for fd, inode in enumerate(sockets, start=3):
        os.symlink(f"socket:[{inode}]", folder / "fd" / str(fd))


def _proc(tmp_path: Path, tcp: str, udp: str = "") -> Path:
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(_HEADER + tcp)
    (proc / "net" / "udp").write_text(_HEADER + udp)
    return proc


def test_a_supervisor_holding_the_port_is_named_by_its_engine(tmp_path: Path) -> None:
    proc = _proc(tmp_path, _socket_line(57120, "0A", 501), _socket_line(57120, "07", 502))
    _process(proc, 40, 1, "bash")
    _process(proc, 41, 40, "chronus: engine :57120")
    _process(proc, 42, 41, "chronus: supervisor :57120", (501, 502))
    _process(proc, 43, 41, "chronus: slot A (active)")
    assert holders(57120, proc) == [42]
    assert engine_of(42, proc) == 41
    assert in_use_text(57120, proc) == "port 57120 is in use by chronus engine pid 41"


def test_an_engine_without_its_parent_is_named_itself(tmp_path: Path) -> None:
    """With `CHRONUS_PARENT=0` the supervisor runs in the `chronus engine` process."""
    proc = _proc(tmp_path, _socket_line(57121, "0A", 601))
    _process(proc, 50, 1, "bash")
    _process(proc, 51, 50, "/usr/bin/python3 -m chronus engine --port 57121", (601,))
    assert in_use_text(57121, proc) == "port 57121 is in use by chronus engine pid 51"


def test_another_program_or_one_not_seen(tmp_path: Path) -> None:
    proc = _proc(
        tmp_path,
        _socket_line(57122, "01", 700) + _socket_line(57123, "0A", 702),  # 700: a connection
        _socket_line(57122, "07", 701),
    )
    _process(proc, 60, 1, "sclang", (700, 701))
    assert in_use_text(57122, proc) == "port 57122 is in use by pid 60 (python3)"
    assert holders(57123, proc) == []  # another user's: its descriptors are not readable
    assert in_use_text(57123, proc) == "port 57123 is in use by another program"


def test_this_process_is_found_in_the_real_proc() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        port = tcp.getsockname()[1]
        assert os.getpid() in holders(port)
        tcp.close()
        assert os.getpid() not in holders(port)
