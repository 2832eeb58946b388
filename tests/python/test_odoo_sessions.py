"""What the Odoo session stores send, through redis-py, against ferrocache and redis-server.

The patterns are those of camptocamp `session_redis` (SET + EXPIRE with the TTL as a string, GET,
DEL, KEYS, rotation), mangono `redis_session_store` (COMMAND LIST probe, sliding EXPIRE) and the
older pickle stores (SETEX, including redis-py 2.x argument order); docs/odoo.md describes
them. Every test runs against both servers (the `server` fixture), so a test that
passes on redis-server and fails on ferrocache is a ferrocache bug, not a test bug.
MULTI/EXEC, EVAL and Lock are tested elsewhere.
"""

import json
import pickle
import uuid

import pytest
import redis

# redis-py >= 5 marks setex() deprecated, but the session stores call it.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

WEEK_S = 604800
ANONYMOUS_S = 10800


def new_sid():
    # Odoo session ids are 84 url-safe characters; the exact shape does not matter here.
    return uuid.uuid4().hex + uuid.uuid4().hex


def session_payload(uid=2):
    return json.dumps(
        {
            "uid": uid,
            "login": "admin",
            "db": "odoo",
            "context": {"lang": "en_US", "tz": "Europe/Brussels"},
            "_trace": [{"platform": "linux", "browser": "firefox"}],
            "date": {"_type": "datetime", "value": "2024-01-01T00:00:00"},
        }
    )


def save_session(r, key, payload, expiration="604800"):
    """camptocamp session_redis save(): two commands; the TTL comes from an env var, as a string."""
    r.set(key, payload)
    r.expire(key, expiration)


@pytest.mark.parametrize("protocol", [2, 3])
def test_session_lifecycle(server, protocol):
    r = server.client(0, protocol=protocol)
    r.flushall()
    key = f"session:{new_sid()}"
    payload = session_payload()
    save_session(r, key, payload)
    assert r.get(key) == payload.encode()
    ttl = r.ttl(key)
    assert 0 < ttl <= WEEK_S
    # A read does not refresh the TTL, and there is no TTL refresh command in this flow.
    assert r.get(key) == payload.encode()
    assert r.ttl(key) <= ttl
    assert r.delete(key) == 1
    assert r.get(key) is None
    assert r.ttl(key) == -2
    assert r.delete(key) == 0
    r.close()


def test_anonymous_session_gets_short_ttl(r):
    key = f"session:{new_sid()}"
    save_session(r, key, session_payload(uid=None), expiration=str(ANONYMOUS_S))
    assert 0 < r.ttl(key) <= ANONYMOUS_S
    assert r.pttl(key) <= ANONYMOUS_S * 1000


def test_databases_from_url_are_isolated(server):
    db0 = server.client(0)
    db1 = server.client(1)
    db0.flushall()
    key = f"session:{new_sid()}"
    save_session(db0, key, "zero")
    assert db1.get(key) is None
    assert db1.keys("session:*") == []
    save_session(db1, key, "one")
    assert db0.get(key) == b"zero"
    assert db1.get(key) == b"one"
    db1.delete(key)
    assert db0.get(key) == b"zero"
    assert db0.dbsize() == 1
    assert db1.dbsize() == 0
    db0.close()
    db1.close()


def test_list_sessions_with_keys(r):
    sids = {new_sid() for _ in range(5)}
    for sid in sids:
        save_session(r, f"session:{sid}", session_payload())
    r.set("other:thing", "x")
    # The prefix quirk of both modules: "session:" + ":" + prefix + ":" gives a double colon.
    r.set("session::shop:abc", "prefixed")
    listed = set(r.keys("session:*"))
    assert listed == {f"session:{sid}".encode() for sid in sids} | {b"session::shop:abc"}
    assert r.keys("session::shop:*") == [b"session::shop:abc"]
    assert r.keys("nomatch:*") == []


def test_rotate_session(r):
    old = f"session:{new_sid()}"
    save_session(r, old, session_payload(uid=None), expiration=str(ANONYMOUS_S))
    new = f"session:{new_sid()}"
    # Login: DEL the old sid, then SET + EXPIRE the new one.
    assert r.delete(old) == 1
    save_session(r, new, session_payload(uid=2))
    assert r.exists(old) == 0
    assert r.get(new) == session_payload(uid=2).encode()
    assert ANONYMOUS_S < r.ttl(new) <= WEEK_S


def test_sliding_expire_on_every_request(r):
    """mangono refreshes the TTL with EXPIRE on each authenticated request."""
    key = f"session:{new_sid()}"
    save_session(r, key, session_payload(), expiration=120)
    for _ in range(3):
        assert r.expire(key, 259200) is True
        assert 120 < r.ttl(key) <= 259200
    assert r.expire(f"session:{new_sid()}", 259200) is False


def test_expire_rejects_non_integer(r):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.expire("k", "7 days")
    assert r.ttl("k") == -1


def test_command_list_advertises_expire(server):
    """mangono: `support_expire = b"expire" in r.command_list()`; without it sessions never expire."""
    r = server.client(0)
    names = r.command_list()
    assert b"expire" in names
    assert b"get" in names and b"set" in names and b"del" in names
    # Names must be lower-case, or the membership test above silently fails.
    assert all(n == n.lower() for n in names)
    r.close()


def test_setex_with_redis_py2_argument_order_fails(r):
    """Smile/MuK stores call setex(key, data, expire): redis-py >= 3 sends SETEX key <pickle> 604800."""
    data = pickle.dumps({"uid": 2, "login": "admin"})
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.setex("session:abc", data, WEEK_S)
    assert r.exists("session:abc") == 0


def test_setex_pickle_store(r):
    """Smile/MuK stores done right: SETEX to save, GET then SETEX again on read (sliding TTL)."""
    key = f"session:{new_sid()}"
    data = pickle.dumps({"uid": 2, "context": {"lang": "fr_BE"}, "blob": b"\x00\r\n\xff"})
    assert r.setex(key, WEEK_S, data) is True
    got = r.get(key)
    assert pickle.loads(got) == pickle.loads(data)
    assert r.setex(key, WEEK_S, got) is True
    assert 0 < r.ttl(key) <= WEEK_S
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'setex' command"):
        r.setex(key, 0, data)


def test_binary_pickles_round_trip(r):
    values = [
        pickle.dumps({"bytes": bytes(range(256)), "text": "h\u00e9llo \u2603"}, protocol=p)
        for p in range(pickle.HIGHEST_PROTOCOL + 1)
    ]
    values.append(b"\r\n\x00" * 1000)
    values.append(b"")
    for i, value in enumerate(values):
        key = b"session:\x00\xff\r\n" + str(i).encode()
        save_session(r, key, value)
        assert r.get(key) == value
    assert len(r.keys(b"session:\x00\xff*")) == len(values)


def test_pipeline_without_transaction(server):
    for protocol in (2, 3):
        r = server.client(0, protocol=protocol)
        r.flushall()
        key = f"session:{new_sid()}"
        pipe = r.pipeline(transaction=False)
        pipe.set(key, session_payload())
        pipe.expire(key, "604800")
        pipe.get(key)
        pipe.ttl(key)
        pipe.delete(key)
        pipe.get(key)
        ok, expired, value, ttl, deleted, gone = pipe.execute()
        assert ok is True
        assert expired is True
        assert value == session_payload().encode()
        assert 0 < ttl <= WEEK_S
        assert deleted == 1
        assert gone is None
        r.close()


def test_pipeline_errors_are_returned_in_place(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("k", "v")
    pipe.expire("k", "never")
    pipe.get("k")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True
    assert isinstance(results[1], redis.ResponseError)
    assert results[2] == b"v"


def test_resp3_and_resp2_clients_see_the_same_data(server):
    r2 = server.client(0, protocol=2)
    r3 = server.client(0, protocol=3)
    r2.flushall()
    key = f"session:{new_sid()}"
    save_session(r3, key, session_payload())
    assert r2.get(key) == r3.get(key) == session_payload().encode()
    assert r3.get("session:missing") is None
    assert r2.get("session:missing") is None
    assert 0 < r2.ttl(key) <= WEEK_S and 0 < r3.ttl(key) <= WEEK_S
    assert r3.connection_pool.connection_kwargs.get("protocol") == 3
    r2.close()
    r3.close()
