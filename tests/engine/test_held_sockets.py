"""Sockets handed over the parent's link (`held_sockets`): real sockets, a real Unix pipe."""

from __future__ import annotations

import multiprocessing
import os
import socket

from chronus.engine.held_sockets import SOCKETS, close_all, hand_down, hand_up, take


def test_sockets_handed_up_and_down_are_the_same_sockets_and_keep_their_port() -> None:
    supervisor, parent = multiprocessing.Pipe(duplex=True)
    listener = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    ports = [listener.getsockname(), udp.getsockname()]
    hand_up(supervisor, [listener, udp])
    word = parent.recv()
    assert word == (SOCKETS, 2)
    held = take(parent, word[1])
    listener.close()  # the supervisor dies: the parent's copies keep the ports
    udp.close()
    assert all(not os.get_inheritable(fd) for fd in held)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as thief:
        try:
            thief.bind(ports[1])
        except OSError:
            pass
        else:
            raise AssertionError("the UDP port was free while the parent held it")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"sent in the gap", ports[1])  # waits in the held socket
    waiting = socket.create_connection(ports[0], timeout=2)  # waits in the backlog
    hand_down(supervisor, held)  # the other way, to the next supervisor
    close_all(held)
    listener_again, udp_again = (socket.socket(fileno=fd) for fd in take(parent, 2))
    with listener_again, udp_again, waiting:
        assert [listener_again.getsockname(), udp_again.getsockname()] == ports
        udp_again.settimeout(2)
        assert udp_again.recv(100) == b"sent in the gap"
        listener_again.settimeout(2)
        accepted, _ = listener_again.accept()
        accepted.close()


def test_descriptors_a_dead_sender_never_sent_are_none() -> None:
    supervisor, parent = multiprocessing.Pipe(duplex=True)
    supervisor.send((SOCKETS, 5))
    supervisor.close()
    assert parent.recv() == (SOCKETS, 5)
    assert take(parent, 5) == []
    assert take(parent, 0) == []
