"""A network of the test's own, so that its Ableton Link session is private.

Link peers find each other by multicast on every interface of the host, and one host has one
session: another engineer's or another CI job's Link test on the same machine joins it (a
failed run saw `peers: 3`), moves its tempo and its beat, and the assertions about two peers
fail. A Linux network namespace has a loopback of its own and nothing else, and Link finds
peers there as on any network; JACK is reached through files, not the network, so a realtime
test runs unchanged in it. `private_network` moves the calling thread (and so every process
it starts, and the engine's OSC on 127.0.0.1) into a fresh namespace for a while, and back.

Creating a namespace takes CAP_SYS_ADMIN (root, as on the CI VM). Without it the test runs
in the host's network as before, exposed to other peers; `private_network` says so.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["private_network"]

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


def _loopback_up() -> None:
    """Bring `lo` up in the calling thread's namespace (a new one has it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))


@contextmanager
def private_network() -> Iterator[bool]:
    """Run the block in a network namespace of its own (True), or, where this process may
    not make one, in the host's network (False)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            print(f"no private network ({os.strerror(errno)}): other Link peers may join")
            yield False
            return
        try:
            _loopback_up()
            yield True
        finally:
            if _libc.setns(home, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "could not go back to the host's network")
    finally:
        os.close(home)
