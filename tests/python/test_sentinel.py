"""Failover under a real redis-sentinel (Debian's package): groups of one primary and two
replicas watched by three sentinels on loopback, all-ferrocache, mixed with redis-server in both
directions, and all-redis-server (which proves the harness). A redis-py `Sentinel.master_for`
writer runs while the primary is killed with SIGKILL; a replica must be promoted, the writer must
resume on it, every write acknowledged by WAIT on both replicas must survive, and the old primary
must rejoin as a replica once restarted.

Figures (failover time, acknowledged writes lost without WAIT) are printed, not asserted:
benches/failover.sh repeats them side by side.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis
from redis.sentinel import Sentinel

from conftest import _ferrocache_bin, _free_port

MASTER = "mymaster"
WAIT_S = 60  # upper bound of every wait (never reached when things work)


def _wait(what, predicate, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (redis.RedisError, OSError) as e:  # a node restarting or failing over
            last = e
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what} (last error: {last})")


class Node:
    """A data node (ferrocache or redis-server) on a fixed loopback port with a config file, so
    it can be killed and restarted on the same port, and so CONFIG REWRITE has a file."""

    def __init__(self, kind, workdir, replica_of=None, extra=()):
        self.kind = kind
        self.port = _free_port()
        self.dir = os.path.join(workdir, f"{kind}-{self.port}")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "node.conf")
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.dir}",
            'save ""',
            "appendonly no",
            "repl-diskless-sync yes",
            "repl-diskless-sync-delay 0",
        ]
        if replica_of is not None:
            lines.append(f"replicaof 127.0.0.1 {replica_of}")
        lines.extend(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        binary = str(_ferrocache_bin()) if self.kind == "ferrocache" else shutil.which("redis-server")
        log = open(os.path.join(self.dir, "out.log"), "ab")
        self.proc = subprocess.Popen(
            [binary, self.conf], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        _wait(f"{self} to listen", lambda: self.client().ping())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self, **kwargs):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, **kwargs)

    def replication(self):
        return self.client().info("replication")

    def __repr__(self):
        return f"{self.kind}@{self.port}"


class SentinelProc:
    def __init__(self, workdir, primary_port, index):
        self.port = _free_port()
        self.conf = os.path.join(workdir, f"sentinel-{index}.conf")
        with open(self.conf, "w") as f:
            f.write(
                "\n".join(
                    [
                        f"port {self.port}",
                        "bind 127.0.0.1",
                        f"dir {workdir}",
                        f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2",
                        f"sentinel down-after-milliseconds {MASTER} 1000",
                        f"sentinel failover-timeout {MASTER} 10000",
                        f"sentinel parallel-syncs {MASTER} 2",
                    ]
                )
                + "\n"
            )
        log = open(os.path.join(workdir, f"sentinel-{index}.log"), "ab")
        self.proc = subprocess.Popen(
            [shutil.which("redis-sentinel"), self.conf], cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        _wait("sentinel to listen", lambda: redis.Redis(port=self.port, socket_timeout=2).ping())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _flags(state):
    """A SENTINEL MASTER/REPLICAS entry's flags as a set (redis-py leaves them a string in RESP2)."""
    flags = state["flags"]
    return set(flags.split(",")) if isinstance(flags, str) else set(flags)


def _link_up(node):
    info = node.replication()
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def _file_replicaof(node):
    """The `replicaof` line of the node's config file (its arguments), or None."""
    with open(node.conf) as f:
        lines = [line.split(" ", 1) for line in f.read().splitlines()]
    found = [rest for first, *rest in lines if first in ("replicaof", "slaveof")]
    assert len(found) <= 1, f"{node}'s file has {len(found)} replicaof lines"
    return found[0][0] if found else None


def _group(primary_kind, replica_kind, workdir):
    primary = Node(primary_kind, workdir)
    # The second replica has replica-priority 0: Sentinel reads it from INFO and must never
    # promote it, so the first replica is the only candidate.
    replicas = [
        Node(replica_kind, workdir, replica_of=primary.port),
        Node(replica_kind, workdir, replica_of=primary.port, extra=["replica-priority 0"]),
    ]
    for replica in replicas:
        _wait(f"{replica} to sync", lambda: _link_up(replica))
    return primary, replicas


def _dump_logs(workdir):
    """Print every sentinel and node log of a failed run (they live in a temp dir removed after)."""
    for root, _, files in sorted(os.walk(workdir)):
        for name in sorted(files):
            if name.endswith(".log"):
                path = os.path.join(root, name)
                with open(path, errors="replace") as f:
                    tail = f.read()[-6000:]
                print(f"\n===== {os.path.relpath(path, workdir)} =====\n{tail}")


GROUPS = [
    ("ferrocache", "ferrocache"),
    ("ferrocache", "redis-server"),
    ("redis-server", "ferrocache"),
    ("redis-server", "redis-server"),
]


@pytest.mark.parametrize("primary_kind,replica_kind", GROUPS, ids=lambda k: k)
def test_sentinel_failover(primary_kind, replica_kind):
    for tool in ("redis-server", "redis-sentinel"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (tests/run.sh installs it)")
    workdir = tempfile.mkdtemp(prefix="sentinel-pytest-")
    nodes, sentinels = [], []
    try:
        primary, replicas = _group(primary_kind, replica_kind, workdir)
        nodes = [primary, *replicas]
        sentinels = [SentinelProc(workdir, primary.port, i) for i in range(3)]

        def sentinel_ready():
            for s in sentinels:
                c = redis.Redis(port=s.port, socket_timeout=2, decode_responses=True)
                state = c.sentinel_master(MASTER)
                if state["num-slaves"] != 2 or state["num-other-sentinels"] != 2:
                    return False
                priorities = {r["port"]: r["slave-priority"] for r in c.sentinel_slaves(MASTER)}
                if priorities != {replicas[0].port: 100, replicas[1].port: 0}:
                    return False
            return True

        _wait("sentinels to discover the replicas and each other", sentinel_ready)

        sentinel = Sentinel([("127.0.0.1", s.port) for s in sentinels], socket_timeout=0.5)
        writer = sentinel.master_for(MASTER, socket_timeout=0.5, retry_on_timeout=False)

        # Writes acknowledged by both replicas (WAIT 2) before the kill must all survive.
        for i in range(200):
            writer.set(f"safe:{i}", i)
        assert writer.execute_command("WAIT", 2, 5000) == 2

        acked = []
        stop = threading.Event()
        resumed_at = []
        killed_at = []
        failed = []

        def write_loop():
            i = 0
            while not stop.is_set() and i < 200_000:
                try:
                    writer.set(f"w:{i}", i)
                    acked.append(i)
                    if failed and not resumed_at:
                        resumed_at.append(time.monotonic())
                    i += 1
                except (redis.RedisError, OSError):
                    if killed_at:
                        failed.append(True)
                    time.sleep(0.02)

        thread = threading.Thread(target=write_loop, daemon=True)
        thread.start()
        _wait("the writer to run", lambda: len(acked) > 200)
        killed_at.append(time.monotonic())
        primary.kill()

        def promoted():
            host, port = sentinel.discover_master(MASTER)
            return port != primary.port

        _wait("a replica to be promoted", promoted)
        _wait("the writer to resume on the new primary", lambda: bool(resumed_at))
        _, new_port = sentinel.discover_master(MASTER)
        new_primary = next(n for n in replicas if n.port == new_port)
        assert new_primary is replicas[0], "Sentinel promoted the replica with replica-priority 0"
        acked_before = len(acked)
        _wait("more writes on the new primary", lambda: len(acked) > acked_before + 200)
        stop.set()
        thread.join(timeout=30)

        survivor = new_primary.client()
        assert survivor.info("replication")["role"] == "master"
        assert all(survivor.get(f"safe:{i}") == str(i).encode() for i in range(200))
        lost = sum(1 for i in acked if survivor.get(f"w:{i}") is None)
        partial = survivor.info("stats").get("sync_partial_ok")
        print(
            f"\n[{primary_kind} primary, {replica_kind} replicas] failover: writer resumed "
            f"{resumed_at[0] - killed_at[0]:.2f} s after SIGKILL; acknowledged writes lost "
            f"without WAIT: {lost} of {len(acked)}; partial resyncs on the new primary: {partial}"
        )

        # Restart the old primary only once every sentinel has finished the failover: same
        # primary, same config epoch, no failover in progress, the sibling re-pointed. Restarting
        # it earlier races Redis's own Sentinel: a sentinel that has not yet taken the new
        # configuration can run a second failover and elect the restarted, empty node (seen once
        # in the all-redis-server group).
        sibling = next(n for n in replicas if n is not new_primary)

        def failover_settled():
            epochs = set()
            for s in sentinels:
                c = redis.Redis(port=s.port, socket_timeout=2, decode_responses=True)
                state = c.sentinel_master(MASTER)
                if state["port"] != new_port or _flags(state) != {"master"}:
                    return False
                epochs.add(state["config-epoch"])
                links = {r["port"]: r for r in c.sentinel_slaves(MASTER)}
                entry = links.get(sibling.port)
                if entry is None or entry["master-port"] != new_port or "slave" not in _flags(entry):
                    return False
            return len(epochs) == 1

        _wait("every sentinel to finish the failover", failover_settled)

        # The old primary comes back and the sentinels turn it into a replica of the new one.
        primary.start()

        def rejoined():
            info = primary.replication()
            return (
                info.get("role") == "slave"
                and info.get("master_port") == new_port
                and info.get("master_link_status") == "up"
            )

        _wait("the old primary to rejoin as a replica", rejoined)
        marker = f"after:{time.monotonic()}"
        survivor.set(marker, 1)
        _wait("the rejoined node to receive new writes", lambda: primary.client().get(marker) == b"1")
        # CONFIG REWRITE from the failover left each node's file naming its new role: no
        # replicaof on the promoted node; `replicaof 127.0.0.1 <new port>` on its former sibling
        # and on the old primary (which Sentinel reconfigured after its restart).
        assert _file_replicaof(new_primary) is None
        for node in (sibling, primary):
            _wait(f"{node}'s file to name its new primary", lambda: _file_replicaof(node) == f"127.0.0.1 {new_port}")
    finally:
        for s in sentinels:
            s.stop()
        for n in nodes:
            n.stop()
        if sys.exc_info()[0] is not None:
            _dump_logs(workdir)
        if os.environ.get("SENTINEL_KEEP_DIR"):  # for looking at the logs of a passing run
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
