"""The HTTP door's connections: replies leave at once (TCP_NODELAY), so a client that
keeps its connection open is not held up by its own delayed ACK on every request."""

from __future__ import annotations

import http.client
import os
import socket

from serving_harness import RunningServer

import pyml


def test_accepted_http_connections_have_nodelay():
    with RunningServer({"digits": pyml.create_pipeline()}, http_port=0) as running:
        door = running.server.http
        client = http.client.HTTPConnection("127.0.0.1", door.port, timeout=30)
        client.request("GET", "/health")
        assert client.getresponse().status == 200
        (listener,) = [s for server in door._server.servers for s in server.sockets]
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        # the accepted connection itself, found by the client's address
        peer = client.sock.getsockname()
        accepted = [c for c in _server_side_sockets(door.port) if c.getpeername() == peer]
        try:
            assert accepted and all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in accepted)
        finally:
            for c in accepted:
                c.close()
            client.close()


def _server_side_sockets(port: int) -> list[socket.socket]:
    """The server's accepted sockets on `port` (copies of this process' descriptors: the
    server runs in this process), found through /proc/self/fd."""
    found = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            if sock.getsockname()[1] == port:
                sock.getpeername()  # accepted, not the listener
                found.append(sock)
                continue
        except (OSError, IndexError, TypeError):
            pass
        sock.close()
    return found
