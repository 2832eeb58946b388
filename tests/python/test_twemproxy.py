"""Sharding over several ferrocache nodes with twemproxy (Debian's `nutcracker`), the recipe of
docs/scale-out.md: three standalone ferrocache nodes on loopback, nutcracker in front with a
generated config (ketama distribution of murmur key hashes), and redis-py talking to the
proxy as to one server.

The client uses `protocol=2` and no CLIENT SETINFO: twemproxy speaks RESP2 only and closes the
connection on commands it does not know, HELLO (RESP3) and CLIENT among them.
"""

import inspect
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import _free_port, _stop, start_ferrocache

NUTCRACKER = shutil.which("nutcracker") or ("/usr/sbin/nutcracker" if os.path.exists("/usr/sbin/nutcracker") else None)


def _without_setinfo():
    """redis-py's switch for CLIENT SETINFO at connect, in the form the installed version takes."""
    if "driver_info" in inspect.signature(redis.Redis.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


@pytest.fixture(scope="module")
def nodes():
    servers = [start_ferrocache() for _ in range(3)]
    try:
        yield servers
    finally:
        for server in servers:
            _stop(server.proc)
            shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def proxy(nodes):
    if NUTCRACKER is None:
        pytest.fail("nutcracker (twemproxy) is not installed: tests/run.sh installs it")
    workdir = tempfile.mkdtemp(prefix="twemproxy-pytest-")
    port, stats_port = _free_port(), _free_port()
    servers = "\n".join(f"    - 127.0.0.1:{n.port}:1 node{i}" for i, n in enumerate(nodes))
    conf = os.path.join(workdir, "nutcracker.yml")
    with open(conf, "w") as f:
        f.write(
            "cache:\n"
            f"  listen: 127.0.0.1:{port}\n"
            "  hash: murmur\n"
            "  distribution: ketama\n"
            "  redis: true\n"
            "  preconnect: true\n"
            "  auto_eject_hosts: false\n"
            "  timeout: 2000\n"
            "  servers:\n"
            f"{servers}\n"
        )
    check = subprocess.run([NUTCRACKER, "-t", "-c", conf], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen(
        [NUTCRACKER, "-c", conf, "-s", str(stats_port), "-a", "127.0.0.1", "-o", os.path.join(workdir, "nutcracker.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, open(os.path.join(workdir, "nutcracker.log")).read()
                assert time.monotonic() < deadline, "nutcracker did not listen"
                time.sleep(0.05)
        yield port
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def client(proxy, nodes):
    for n in nodes:
        n.client().flushall()
    c = redis.Redis(host="127.0.0.1", port=proxy, protocol=2, **_without_setinfo())
    yield c
    c.close()


def test_set_get_mget_del_spread_over_the_nodes(client, nodes):
    keys = [f"user:{i}" for i in range(300)]
    for i, key in enumerate(keys):
        assert client.set(key, i)
    assert [int(client.get(key)) for key in keys] == list(range(300))
    # MGET and DEL with keys on several nodes: twemproxy splits them and merges the replies.
    assert client.mget(keys[:50]) == [str(i).encode() for i in range(50)]
    assert client.delete(*keys[:30]) == 30
    assert client.mget(keys[:31]) == [None] * 30 + [b"30"]
    counts = [n.client().dbsize() for n in nodes]
    assert sum(counts) == 270
    # ketama spreads keys: every node holds a fair share.
    assert all(c > 270 // 10 for c in counts), counts
    # A key lives on exactly one node.
    holders = [n for n in nodes if n.client().exists("user:299")]
    assert len(holders) == 1


def test_pipelines_and_single_key_commands(client):
    pipe = client.pipeline(transaction=False)
    for i in range(100):
        pipe.incrby(f"counter:{i % 10}", 1)
        pipe.hset(f"h:{i}", "f", i)
        pipe.expire(f"h:{i}", 60)
    pipe.execute()
    assert sum(int(client.get(f"counter:{i}")) for i in range(10)) == 100
    assert client.hget("h:42", "f") == b"42"
    assert 0 < client.ttl("h:42") <= 60
    assert client.eval("return redis.call('incr', KEYS[1])", 1, "counter:0") == 11
