"""redis-py's PubSub against ferrocache and redis-server (the `server` fixture runs each test on
both): get_message, listen, pattern handlers run in a thread, keyspace notifications, RESP3
pushes on a protocol=3 connection, and the invalidation pattern a multi-worker cache relies on
(one worker writes, the others hear about it). Waits are bounded polls.
"""

import threading
import time

import pytest


def wait_message(pubsub, timeout=5.0):
    """The next data message (subscribe confirmations skipped), or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if msg is not None:
            return msg
    return None


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    client.config_set("notify-keyspace-events", "")
    yield client
    client.config_set("notify-keyspace-events", "")
    client.close()


def test_subscribe_get_message(r):
    p = r.pubsub()
    p.subscribe("news")
    confirm = p.get_message(timeout=5)
    assert confirm == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert r.publish("news", "hello") == 1
    msg = wait_message(p)
    assert msg == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert r.pubsub_numsub("news") == [(b"news", 1)]
    assert r.pubsub_channels() == [b"news"]
    p.unsubscribe("news")
    unsub = p.get_message(timeout=5)
    assert unsub["type"] == "unsubscribe" and unsub["data"] == 0
    assert r.publish("news", "nobody") == 0
    p.close()


def test_psubscribe_and_listen(r):
    p = r.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("user:*")
    assert wait_message(p, timeout=0.5) is None  # only the confirmation, ignored
    assert r.pubsub_numpat() == 1
    for i in range(3):
        assert r.publish(f"user:{i}", f"m{i}") == 1
    r.publish("ignored", "x")
    got = []
    for msg in p.listen():
        if msg is None:
            continue
        got.append((msg["type"], msg["pattern"], msg["channel"], msg["data"]))
        if len(got) == 3:
            break
    assert got == [("pmessage", b"user:*", f"user:{i}".encode(), f"m{i}".encode()) for i in range(3)]
    p.close()


def test_handlers_in_a_thread(r):
    received = []
    done = threading.Event()

    def on_pattern(msg):
        received.append((msg["channel"], msg["data"]))
        if len(received) == 5:
            done.set()

    p = r.pubsub()
    p.psubscribe(**{"orders.*": on_pattern})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        deadline = time.monotonic() + 5
        while r.pubsub_numpat() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(5):
            r.publish(f"orders.{i}", str(i))
        assert done.wait(5)
    finally:
        worker.stop()
        worker.join(5)
        p.close()
    assert received == [(f"orders.{i}".encode(), str(i).encode()) for i in range(5)]


def test_keyspace_notifications(r):
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == "AKE"
    p = r.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("__keyevent@0__:*")
    r.set("product:1", "v", ex=100)
    r.delete("product:1")
    events = [wait_message(p) for _ in range(3)]
    assert [(m["channel"], m["data"]) for m in events] == [
        (b"__keyevent@0__:set", b"product:1"),
        (b"__keyevent@0__:expire", b"product:1"),
        (b"__keyevent@0__:del", b"product:1"),
    ]
    p.close()


def test_cache_invalidation_between_workers(server):
    """Two workers keep local copies; a write by one reaches the other through keyspace events."""
    admin = server.client()
    admin.flushall()
    admin.config_set("notify-keyspace-events", "Kg$")
    writer = server.client()
    reader = server.client()
    local_cache = {"product:7": b"old"}
    p = reader.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("__keyspace@0__:product:*")
    writer.set("product:7", "new")
    msg = wait_message(p)
    assert msg["channel"] == b"__keyspace@0__:product:7" and msg["data"] == b"set"
    local_cache.pop(msg["channel"].split(b":", 1)[1].decode(), None)
    assert "product:7" not in local_cache
    p.close()
    admin.config_set("notify-keyspace-events", "")
    for c in (admin, writer, reader):
        c.close()


def test_resp3_pubsub(server):
    client = server.client(protocol=3)
    client.flushall()
    p = client.pubsub(ignore_subscribe_messages=True)
    p.subscribe("c3")
    assert wait_message(p, timeout=0.3) is None
    other = server.client()
    assert other.publish("c3", "pushed") == 1
    msg = wait_message(p)
    assert msg["type"] == "message" and msg["channel"] == b"c3" and msg["data"] == b"pushed"
    # The regular connection keeps working meanwhile.
    client.set("k", "v")
    assert client.get("k") == b"v"
    p.close()
    client.close()
    other.close()
