"""redis-py's RedisCluster against ferrocache's emulated cluster mode (`cluster-enabled yes`: one
node owning all 16384 slots) and against a one-node redis-server cluster given every slot with
CLUSTER ADDSLOTSRANGE, so each test proves itself on the reference too.

RedisCluster reads CLUSTER SLOTS at start-up, routes each key by its slot, splits multi-key
reads and deletes across slots itself, sends pipelines per node, and refuses cross-slot
multi-key commands before sending them. The camptocamp `session_redis` store
(ODOO_SESSION_REDIS_CLUSTER) builds its client with `RedisCluster(host=..., port=...)` or, from a
URL, `RedisCluster.from_url`; both forms are used below with that store's calls.
"""

import json
import secrets
import shutil
import time

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import _free_port, _stop, start_ferrocache, start_redis_server


def _wait_cluster_ok(port):
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
        assert time.monotonic() < deadline, "cluster never reached cluster_state:ok"
        time.sleep(0.05)
    client.close()


@pytest.fixture(scope="module", params=["ferrocache", "redis-server"])
def node(request):
    """One cluster node owning every slot."""
    bus = str(_free_port())
    args = ("--cluster-enabled", "yes", "--cluster-port", bus)
    if request.param == "ferrocache":
        server = start_ferrocache(*args)
    else:
        server = start_redis_server(*args)
        redis.Redis(port=server.port).execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    try:
        _wait_cluster_ok(server.port)
        yield server
    finally:
        _stop(server.proc)
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def rc(node):
    client = RedisCluster(host="127.0.0.1", port=node.port)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    client.close()


def test_topology_seen_by_the_client(rc):
    nodes = rc.get_nodes()
    assert len(nodes) == 1
    assert nodes[0].server_type == "primary"
    assert rc.cluster_info()["cluster_state"] == "ok"
    assert rc.cluster_keyslot("{user1000}.following") == 3443
    # Every slot maps to the one node.
    assert rc.get_node_from_key("a") == rc.get_node_from_key("b") == nodes[0]


def test_sets_and_gets_across_slots(rc):
    keys = [f"key:{i}" for i in range(300)]
    for i, key in enumerate(keys):
        assert rc.set(key, i)
    assert [int(rc.get(key)) for key in keys] == list(range(300))
    slots = {rc.keyslot(key) for key in keys}
    assert len(slots) > 200
    # Counted per slot on the server.
    slot = rc.keyslot("key:7")
    expected = sum(1 for key in keys if rc.keyslot(key) == slot)
    assert rc.cluster_countkeysinslot(slot) == expected
    assert "key:7" in rc.cluster_get_keys_in_slot(slot, 1000)


def test_pipelines(rc):
    pipe = rc.pipeline()
    for i in range(200):
        pipe.set(f"p:{i}", i)
        pipe.incr(f"counter:{i % 7}")
    results = pipe.execute()
    assert results[0::2] == [True] * 200
    assert len(results) == 400
    pipe = rc.pipeline()
    for i in range(200):
        pipe.get(f"p:{i}")
    assert [int(v) for v in pipe.execute()] == list(range(200))
    assert sum(int(rc.get(f"counter:{i}")) for i in range(7)) == 200


def test_multi_key_commands_with_hash_tags(rc):
    assert rc.mset({"{user:1}:name": "ada", "{user:1}:lang": "en"})
    assert rc.mget("{user:1}:name", "{user:1}:lang") == [b"ada", b"en"]
    assert rc.sadd("{team}:a", "x", "y") == 2
    assert rc.sadd("{team}:b", "y", "z") == 2
    assert rc.sunionstore("{team}:all", ["{team}:a", "{team}:b"]) == 3
    assert rc.eval("return redis.call('mget', KEYS[1], KEYS[2])", 2, "{user:1}:name", "{user:1}:lang") == [
        b"ada",
        b"en",
    ]
    # Keys in different slots: the client splits the request per slot.
    assert rc.mset_nonatomic({"a": 1, "b": 2, "c": 3})
    assert rc.mget_nonatomic("a", "b", "c") == [b"1", b"2", b"3"]
    assert rc.delete("a", "b", "c", "{team}:a") == 4
    assert rc.exists("a", "{team}:b") == 1
    # A transaction on one slot.
    with rc.pipeline(transaction=True) as tx:
        tx.set("{acct}:x", 1)
        tx.incrby("{acct}:x", 41)
        tx.get("{acct}:x")
        assert tx.execute()[1:] == [42, b"42"]


def test_cross_slot_errors_reach_the_client(node, rc):
    direct = redis.Redis(port=node.port)
    with pytest.raises(redis.ResponseError, match="Keys in request don't hash to the same slot"):
        direct.mset({"a": 1, "b": 2})
    with pytest.raises(redis.ResponseError, match="SELECT is not allowed in cluster mode"):
        direct.select(1)
    with pytest.raises(redis.exceptions.RedisClusterException):
        rc.mset({"a": 1, "b": 2})
    direct.close()


def test_resp3_client(node):
    client = RedisCluster(host="127.0.0.1", port=node.port, protocol=3)
    try:
        assert client.set("r3", "v")
        assert client.get("r3") == b"v"
        assert client.hset("{h}h", mapping={"f": "1"}) == 1
        assert client.hgetall("{h}h") == {b"f": b"1"}
    finally:
        client.close()


class SessionStore:
    """The calls camptocamp's session_redis RedisSessionStore makes (save, get, delete, list,
    partial-sid lookups, deletes by identifier), on the client its http.py builds."""

    prefix = "session:"

    def __init__(self, client):
        self.redis = client

    def save(self, sid, data, expiration):
        key = self.prefix + sid
        if self.redis.set(key, json.dumps(data).encode()):
            return self.redis.expire(key, expiration)

    def get(self, sid):
        saved = self.redis.get(self.prefix + sid)
        return json.loads(saved) if saved else None

    def delete(self, sid):
        return self.redis.delete(self.prefix + sid)

    def list(self):
        return sorted(k[len(self.prefix):].decode() for k in self.redis.keys(f"{self.prefix}*"))

    def missing(self, partial_sids):
        missing = set()
        for partial in partial_sids:
            try:
                next(self.redis.scan_iter(match=f"{self.prefix}{partial}*", count=1))
            except StopIteration:
                missing.add(partial)
        return missing

    def delete_from_identifiers(self, identifiers):
        keys = []
        for identifier in identifiers:
            keys.extend(self.redis.scan_iter(match=f"{self.prefix}{identifier}*"))
        if keys:
            self.redis.delete(*keys)


@pytest.mark.parametrize("form", ["from_url", "host_port"])
def test_odoo_session_redis_cluster(node, form):
    if form == "from_url":
        client = RedisCluster.from_url(f"redis://127.0.0.1:{node.port}/0")
    else:
        client = RedisCluster(host="127.0.0.1", port=node.port, password=None, ssl=False)
    try:
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        store = SessionStore(client)
        sids = [secrets.token_urlsafe(63) for _ in range(20)]
        for i, sid in enumerate(sids):
            assert store.save(sid, {"uid": i, "login": f"user{i}", "context": {"lang": "en_US"}}, 604800)
        assert store.get(sids[3])["login"] == "user3"
        assert 0 < client.ttl(store.prefix + sids[3]) <= 604800
        assert store.list() == sorted(sids)
        assert store.missing([sids[0][:42], "x" * 42]) == {"x" * 42}
        assert store.delete(sids[0]) == 1
        assert store.get(sids[0]) is None
        store.delete_from_identifiers([sid[:42] for sid in sids[1:11]])
        assert store.list() == sorted(sids[11:])
    finally:
        client.close()
