"""redis-py's Functions API (function_load, fcall, fcall_ro, function_list, function_dump,
function_restore) and a job-queue pattern built on the Lua libraries queue libraries use
(cjson and cmsgpack inside scripts), against ferrocache and redis-server (the `server`
fixture runs each test on both).
"""

import json

import pytest
import redis
from redis.exceptions import ResponseError

QUEUE_LIB = """#!lua name=jobs
local function add(keys, args)
  local id = redis.call('incr', keys[1] .. ':id')
  local job = cjson.decode(args[1])
  job.id = id
  redis.call('hset', keys[1] .. ':job:' .. id, 'data', cmsgpack.pack(job))
  redis.call('rpush', keys[1] .. ':wait', id)
  return id
end
local function take(keys)
  local id = redis.call('lpop', keys[1] .. ':wait')
  if not id then return nil end
  local job = cmsgpack.unpack(redis.call('hget', keys[1] .. ':job:' .. id, 'data'))
  return cjson.encode(job)
end
redis.register_function('add', add)
redis.register_function('take', take)
redis.register_function{function_name='waiting', callback=function(keys)
  return redis.call('llen', keys[1] .. ':wait') end, flags={'no-writes'}}
"""


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    client.function_flush()
    yield client
    client.function_flush()
    client.close()


def test_queue_library_round_trip(r):
    assert r.function_load(QUEUE_LIB) == b"jobs"
    for n in range(5):
        assert r.fcall("add", 1, "q", json.dumps({"n": n, "tags": ["a", "b"], "ratio": 0.25})) == n + 1
    assert r.fcall_ro("waiting", 1, "q") == 5
    first = json.loads(r.fcall("take", 1, "q"))
    assert first == {"n": 0, "tags": ["a", "b"], "ratio": 0.25, "id": 1}
    assert r.fcall_ro("waiting", 1, "q") == 4
    with pytest.raises(ResponseError, match="write flag"):
        r.fcall_ro("take", 1, "q")
    with pytest.raises(ResponseError, match="Function not found"):
        r.fcall("nosuch", 0)


def test_list_dump_restore(r):
    r.function_load(QUEUE_LIB)
    listing = r.function_list(library="jobs", withcode=True)
    (library,) = listing
    fields = library if isinstance(library, dict) else dict(zip(library[::2], library[1::2]))
    assert fields[b"library_name"] == b"jobs"
    assert fields[b"library_code"] == QUEUE_LIB.encode()
    assert len(fields[b"functions"]) == 3
    payload = r.function_dump()
    r.function_flush()
    assert r.function_list() == []
    assert r.function_restore(payload)
    assert r.fcall("add", 1, "q", "{}") == 1
    with pytest.raises(ResponseError, match="already exists"):
        r.function_restore(payload)
    assert r.function_restore(payload, "REPLACE")


def test_eval_with_cjson_and_cmsgpack(r):
    script = "local t = cjson.decode(ARGV[1]) t.seen = true return {cjson.encode(t), cmsgpack.pack(t.list)}"
    encoded, packed = r.eval(script, 0, json.dumps({"list": [1, 2, 3]}))
    assert json.loads(encoded) == {"list": [1, 2, 3], "seen": True}
    assert packed == b"\x93\x01\x02\x03"
