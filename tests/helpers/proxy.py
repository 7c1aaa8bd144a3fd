"""A TCP proxy on loopback that forwards, then stops forwarding without closing: a network path that stalls."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from types import TracebackType


class StallingProxy:
    """Forwards its own loopback port to `127.0.0.1:target`; a connection numbered `stall_from` or later (from 1, in
    the order accepted) passes `budget` bytes from the server, then moves nothing either way and stays open.

    The peer sees a live TCP connection (the kernel still acknowledges), so only a timeout of its own ends the wait.
    Everything is closed after `lifetime` seconds at the latest, so a client without one fails instead of hanging.
    """

    def __init__(self, target: int, *, budget: int = 0, stall_from: int = 1, lifetime: float = 60) -> None:
        self.target, self.budget, self.stall_from, self.lifetime = target, budget, stall_from, lifetime
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self.stalled = 0
        """Connections that reached their budget and stopped moving."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stalling-proxy", daemon=True)

    def __enter__(self) -> StallingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._passed: dict[socket.socket, int] = {}  # per server-side socket of a stalling connection: bytes passed
        deadline = time.monotonic() + self.lifetime
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _ in self._selector.select(timeout=0.05):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif isinstance(key.fileobj, socket.socket) and key.fileobj in self._peers:
                        self._forward(key.fileobj)
        finally:
            for end in [self.listener, *self._peers]:
                end.close()
            self._selector.close()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        client.settimeout(5)
        self.accepted += 1
        self._peers[client], self._peers[server] = server, client
        if self.accepted >= self.stall_from:
            self._passed[server] = 0
        self._selector.register(client, selectors.EVENT_READ)
        self._selector.register(server, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        other = self._peers[sock]
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            for end in (sock, other):
                self._selector.unregister(end)
                end.close()
                self._peers.pop(end, None)
            return
        if sock in self._passed:
            allowed = max(self.budget - self._passed[sock], 0)
            data, cut = data[:allowed], len(data) > allowed
            self._passed[sock] += len(data)
            if cut:
                # Neither end is read again; both stay open, so the client waits on a live connection.
                self._selector.unregister(sock)
                self._selector.unregister(other)
                self.stalled += 1
        with contextlib.suppress(OSError):
            other.sendall(data)
