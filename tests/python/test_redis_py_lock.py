"""redis-py's Lock against ferrocache and redis-server (the `server` fixture runs each test on
both). Lock uses SET NX PX to acquire and Lua scripts by EVALSHA (after SCRIPT LOAD on
NOSCRIPT) to release, extend and reacquire, so this exercises the scripting path end to end.
Waits are bounded; no test asserts on timing beyond generous bounds.
"""

import threading
import time

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    client.script_flush()
    yield client
    client.close()


def test_acquire_release(r):
    lock = r.lock("lock:a", timeout=10)
    assert lock.acquire(blocking=False)
    assert r.get("lock:a") == lock.local.token
    assert 0 < r.pttl("lock:a") <= 10_000
    assert lock.owned()
    lock.release()
    assert r.exists("lock:a") == 0
    with pytest.raises(LockError):
        lock.release()


def test_blocking_acquire_times_out_while_held(r):
    holder = r.lock("lock:b", timeout=10)
    assert holder.acquire(blocking=False)
    waiter = r.lock("lock:b", timeout=10, sleep=0.02)
    started = time.monotonic()
    assert not waiter.acquire(blocking=True, blocking_timeout=0.3)
    assert time.monotonic() - started < 10
    holder.release()
    assert waiter.acquire(blocking=True, blocking_timeout=5)
    waiter.release()


def test_extend_and_reacquire(r):
    lock = r.lock("lock:c", timeout=2)
    assert lock.acquire(blocking=False)
    assert lock.extend(20)
    assert r.pttl("lock:c") > 2_000
    assert lock.extend(5, replace_ttl=True)
    assert r.pttl("lock:c") <= 5_000
    assert lock.reacquire()
    assert r.pttl("lock:c") > 1_000
    lock.release()


def test_lock_not_owned_after_expiry(r):
    lock = r.lock("lock:d", timeout=0.1)
    assert lock.acquire(blocking=False)
    deadline = time.monotonic() + 10
    while r.exists("lock:d") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.exists("lock:d") == 0
    with pytest.raises(LockNotOwnedError):
        lock.extend(1)
    with pytest.raises(LockNotOwnedError):
        lock.reacquire()
    # release() forgets the token first, so it comes last.
    with pytest.raises(LockNotOwnedError):
        lock.release()


def test_another_owner_cannot_release(r):
    mine = r.lock("lock:e", timeout=10)
    assert mine.acquire(blocking=False)
    theirs = r.lock("lock:e", timeout=10)
    theirs.local.token = b"someone-else"
    with pytest.raises(LockNotOwnedError):
        theirs.do_release(b"someone-else")
    assert r.get("lock:e") == mine.local.token
    mine.release()


def test_noscript_then_script_load(r):
    with pytest.raises(NoScriptError):
        r.evalsha("c3f8721cbb97f72bc19e972846bd7aaf91901658", 1, "k", "v")
    lock = r.lock("lock:f", timeout=10)
    assert lock.acquire(blocking=False)
    lock.release()
    assert r.script_exists("c3f8721cbb97f72bc19e972846bd7aaf91901658") == [True]


THREADS = 32
ROUNDS = 50


def test_mutual_exclusion(server):
    """32 threads x 50 acquisitions of one lock; each holder does a non-atomic GET/SET
    increment. Any overlap of two holders would lose an increment."""
    setup = server.client()
    setup.flushall()
    setup.set("counter", 0)
    errors = []

    def worker():
        client = server.client()
        try:
            for _ in range(ROUNDS):
                lock = client.lock("lock:mutex", timeout=30, sleep=0.001)
                if not lock.acquire(blocking=True, blocking_timeout=60):
                    errors.append("acquire timed out")
                    return
                try:
                    value = int(client.get("counter"))
                    client.set("counter", value + 1)
                finally:
                    lock.release()
        except redis.RedisError as exc:  # reported below, so the test fails with the cause
            errors.append(repr(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert int(setup.get("counter")) == THREADS * ROUNDS
    setup.close()
