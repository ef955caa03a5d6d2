"""Which of the port's UDP sockets a sender's datagrams land in: flooders in one of their own.

The engine reads UDP from several sockets on one port (`SO_REUSEPORT`), each with a receive
buffer of its own, so that a flood overflows its own socket's buffer and not every sender's.
The kernel picks a socket by a hash of the sender's address and port, so a calm sender can
share the flooder's socket and lose its datagrams with the flood's, before the engine reads
anything (the per-peer rate only sheds what it reads). Here a classic BPF program chooses
instead (`SO_ATTACH_REUSEPORT_CBPF`, Linux, IPv4): the senders named as flooders go to socket
0, and every other sender to one of the others, by its address and port (its datagrams all
to one socket: their order kept). The program is attached once the sockets are bound, and
again, with the flooders named, whenever one is found.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Final

__all__ = ["MAX_FLOODERS", "dropped_so_far", "program", "steer"]

MAX_FLOODERS: Final = 16
"""Senders named in the program at once (the latest found)."""
_SO_ATTACH_REUSEPORT_CBPF: Final = 51
_SO_MEMINFO: Final = 55
_MEMINFO_DROPS: Final = 8
_NET: Final = -0x100000
"""`SKF_NET_OFF`: offsets from the IP header (the program sees the UDP payload at 0)."""
_LD_W_ABS: Final = 0x20
_LD_H_IND: Final = 0x48
_LD_MEM: Final = 0x60
_LDX_MEM: Final = 0x61
_LDX_B_MSH: Final = 0xB1
_ST: Final = 0x02
_JEQ_K: Final = 0x15
_ALU_XOR_X: Final = 0xAC
_ALU_MOD_K: Final = 0x94
_ALU_ADD_K: Final = 0x04
_RET_K: Final = 0x06
_RET_A: Final = 0x16


def _op(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(sockets: int, flooders: Sequence[tuple[str, int]] = ()) -> bytes:
    """The instructions (`struct sock_filter`s) that send `flooders` (IPv4 address, port) to
    socket 0 and any other sender to socket 1 + (address ^ port) % (sockets - 1)."""
    ops = [
        _op(_LDX_B_MSH, _NET),  # X = the IP header's length
        _op(_LD_H_IND, _NET),  # A = the UDP source port, right after it
        _op(_ST, 0),
        _op(_LD_W_ABS, _NET + 12),  # A = the IPv4 source address
    ]
    for host, port in flooders[-MAX_FLOODERS:]:
        ops += [
            _op(_JEQ_K, int(ipaddress.IPv4Address(host)), 0, 4),
            _op(_LD_MEM, 0),
            _op(_JEQ_K, port, 0, 1),
            _op(_RET_K, 0),
            _op(_LD_W_ABS, _NET + 12),
        ]
    ops += [
        _op(_LDX_MEM, 0),
        _op(_ALU_XOR_X),
        _op(_ALU_MOD_K, max(1, sockets - 1)),
        _op(_ALU_ADD_K, 1),
        _op(_RET_A),
    ]
    return b"".join(ops)


def steer(udp: socket.socket, sockets: int, flooders: Sequence[tuple[str, int]] = ()) -> bool:
    """Attach `program` to the group `udp` belongs to; whether the system took it (Linux,
    an IPv4 group of at least two sockets)."""
    if not sys.platform.startswith("linux") or udp.family != socket.AF_INET or sockets < 2:
        return False
    code = program(sockets, flooders)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buffer))
    try:
        udp.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError:
        return False
    return True


def dropped_so_far(udp: socket.socket) -> int:
    """How many datagrams the kernel has dropped on `udp` until now, its buffer full (Linux's
    `SO_MEMINFO`: at once, not with the next datagram read as `SO_RXQ_OVFL` tells it); 0 where
    it cannot be read."""
    try:
        info = udp.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 4 * (_MEMINFO_DROPS + 1))
    except OSError:
        return 0
    return int(struct.unpack_from("I", info, 4 * _MEMINFO_DROPS)[0])
