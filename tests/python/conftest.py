"""Fixtures for the redis-py tests: a ferrocache process and a redis-server process on free
loopback ports, so every Odoo-pattern test runs against both (redis-server proves the test
itself is right; ferrocache is what is under test).

FERROCACHE_BIN names the binary (default target/debug/ferrocache, relative to the repo root).
A missing redis-server skips only the redis-server half, never the ferrocache half.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "Ready to accept connections tcp (port "
START_TIMEOUT_S = 30


def _ferrocache_bin():
    path = Path(os.environ.get("FERROCACHE_BIN", "target/debug/ferrocache"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(f"{path} does not exist: run `cargo build` first (tests/run.sh does)")
    return path


def _stop(proc):
    """Kills our own child by PID and reaps it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


class RunningServer:
    """A server process listening on 127.0.0.1:port."""

    def __init__(self, kind, proc, port, workdir):
        self.kind = kind
        self.proc = proc
        self.port = port
        self.workdir = workdir

    def url(self, db=0, **query):
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        return f"redis://127.0.0.1:{self.port}/{db}" + (f"?{suffix}" if suffix else "")

    def client(self, db=0, **kwargs):
        return redis.from_url(self.url(db), **kwargs)

    def __repr__(self):
        return f"{self.kind}@{self.port}"


def start_ferrocache(*extra_args):
    # `port 0` means no TCP listener (as in Redis): a port that was free a moment ago, and
    # another one if something took it meanwhile.
    for _ in range(5):
        server = _try_start_ferrocache(_free_port(), extra_args)
        if server is not None:
            return server
    pytest.fail("ferrocache did not start on a free port")


def _try_start_ferrocache(port, extra_args):
    workdir = tempfile.mkdtemp(prefix="ferrocache-pytest-")
    proc = subprocess.Popen(
        [str(_ferrocache_bin()), "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, *extra_args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    found = threading.Event()
    ready = []
    seen = []

    def drain():
        # Waits for the ready line, then keeps reading so the server never blocks on a full pipe.
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not found.is_set():
                seen.append(line)
                if f"{READY_PREFIX}{port})" in line:
                    ready.append(True)
                    found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    found.wait(START_TIMEOUT_S)
    if not ready:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
        if any("Address already in use" in line for line in seen):
            return None
        pytest.fail("ferrocache did not report its port; output:\n" + "".join(seen))
    return RunningServer("ferrocache", proc, port, workdir)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis_server(*extra_args):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (tests/run.sh installs it)")
    workdir = tempfile.mkdtemp(prefix="redis-pytest-")
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log"), *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return RunningServer("redis-server", proc, port, workdir)
            except OSError:
                time.sleep(0.02)
        _stop(proc)
    shutil.rmtree(workdir, ignore_errors=True)
    pytest.fail("redis-server did not start")


def _server_fixture(kind):
    server = start_ferrocache() if kind == "ferrocache" else start_redis_server()
    try:
        yield server
    finally:
        _stop(server.proc)
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def ferrocache():
    """ferrocache alone (for behaviour only ferrocache is tested for)."""
    yield from _server_fixture("ferrocache")


@pytest.fixture(scope="module")
def redis_server():
    """redis-server alone."""
    yield from _server_fixture("redis-server")


@pytest.fixture(scope="module", params=["ferrocache", "redis-server"])
def server(request):
    """Each test using it runs twice: against ferrocache and against redis-server."""
    yield from _server_fixture(request.param)


@pytest.fixture
def r(server):
    """A RESP2-or-default client on db 0 of a clean server."""
    client = server.client(0)
    client.flushall()
    yield client
    client.close()
