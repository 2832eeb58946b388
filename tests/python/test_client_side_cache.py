"""redis-py's client-side cache (RESP3, `cache_config`) over CLIENT TRACKING, against both
servers: a cached read is served locally, and another client's write invalidates it.

redis-py enables its cache only for servers reporting version 7.4 or later, although CLIENT
TRACKING exists since 6.0. ferrocache reports 7.4.2, so the cache starts as is (the last test,
against ferrocache alone); the oracle is 7.0.15, so the test run against both servers lowers
that gate."""

import time

import pytest
import redis

cache_module = pytest.importorskip("redis.cache", reason="client-side caching needs redis-py >= 5.1")


@pytest.fixture(autouse=True)
def allow_older_servers(monkeypatch, request):
    if request.node.name.startswith("test_cache_starts_without_lowering"):
        return
    import redis.connection
    if hasattr(redis.connection, "CacheProxyConnection"):
        monkeypatch.setattr(redis.connection.CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")


def test_cached_value_is_invalidated_by_another_clients_write(server):
    cached = redis.Redis(host="127.0.0.1", port=server.port, protocol=3,
                         cache_config=cache_module.CacheConfig())
    other = server.client()
    other.flushall()
    other.set("product:42", "Chair")
    other.config_resetstat()
    try:
        assert cached.get("product:42") == b"Chair"
        assert cached.get("product:42") == b"Chair"
        # The second read was served from the local cache: the server saw one GET.
        assert other.info("commandstats")["cmdstat_get"]["calls"] == 1
        info = cached.client_trackinginfo()
        assert b"on" in info[b"flags"] or "on" in info.get("flags", [])
        other.set("product:42", "Table")
        # The invalidation travels asynchronously; the client drops its copy when it sees it.
        deadline = time.monotonic() + 5
        while cached.get("product:42") != b"Table":
            assert time.monotonic() < deadline, "the cached value was never invalidated"
            time.sleep(0.01)
    finally:
        cached.close()
        other.close()


def test_cache_starts_without_lowering_the_version_gate(ferrocache):
    """ferrocache reports Redis 7.4.2, so redis-py enables its cache with its own gate."""
    cached = redis.Redis(host="127.0.0.1", port=ferrocache.port, protocol=3,
                         cache_config=cache_module.CacheConfig())
    other = ferrocache.client()
    other.flushall()
    other.set("k", "v1")
    other.config_resetstat()
    try:
        assert cached.info("server")["redis_version"] == "7.4.2"
        assert cached.get("k") == b"v1"
        assert cached.get("k") == b"v1"
        assert other.info("commandstats")["cmdstat_get"]["calls"] == 1
        other.set("k", "v2")
        deadline = time.monotonic() + 5
        while cached.get("k") != b"v2":
            assert time.monotonic() < deadline, "the cached value was never invalidated"
            time.sleep(0.01)
    finally:
        cached.close()
        other.close()
