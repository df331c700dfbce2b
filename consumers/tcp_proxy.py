"""A loopback TCP proxy with optional TLS termination and injected faults, for the tests
and the soak benchmark.

Between the detector and the broker it can reset every connection, stall the
traffic, or refuse new connections for a while, the failures a network and a
broker restart produce.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

from consumers.broker import free_port


class Proxy:
    def __init__(self, target_port: int, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.target = ("127.0.0.1", target_port)
        self.tls = tls
        self.refusing = False
        self.resets = 0
        self._paused = threading.Event()
        self._paused.set()  # set = traffic flows
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.refusing:
            _abort(client)
            return
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except (OSError, ssl.SSLError):
            _abort(client)
            return
        with self._lock:
            self._conns += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self._paused.wait()
                dst.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            _abort(src)
            _abort(dst)

    def reset_all(self) -> None:
        """Every open connection is cut at once, as a broker crash or a network flap does."""
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            _abort(s)
        self.resets += 1

    def stall(self, seconds: float) -> None:
        """Hold all traffic (connections stay open) for a while."""
        self._paused.clear()
        time.sleep(seconds)
        self._paused.set()

    def outage(self, seconds: float) -> None:
        """Cut everything and refuse new connections for a while (a broker restart)."""
        self.refusing = True
        self.reset_all()
        time.sleep(seconds)
        self.refusing = False

    def close(self) -> None:
        self._stopped = True
        self._paused.set()
        with contextlib.suppress(OSError):
            self._server.close()
        self.reset_all()


def _abort(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        s.close()
