"""A job queue on lists with redis-py, against ferrocache and redis-server (the `server` fixture
runs each test on both): producers LPUSH jobs, workers BRPOP them with a timeout; every job is
delivered exactly once, and idle workers time out with None.
"""

import threading

PRODUCERS = 4
JOBS_PER_PRODUCER = 250
WORKERS = 6


def test_every_job_is_delivered_exactly_once(server):
    server.client().flushall()
    delivered = []
    lock = threading.Lock()
    producers_done = threading.Event()

    def produce(p):
        client = server.client()
        for i in range(JOBS_PER_PRODUCER):
            client.lpush("jobs", f"job-{p}-{i}")
        client.close()

    def work():
        client = server.client()
        mine = []
        while True:
            item = client.brpop(["jobs"], timeout=0.2)
            if item is None:
                if producers_done.is_set():
                    break
                continue
            key, job = item
            assert key == b"jobs"
            mine.append(job.decode())
        with lock:
            delivered.extend(mine)
        client.close()

    workers = [threading.Thread(target=work) for _ in range(WORKERS)]
    for w in workers:
        w.start()
    producers = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    producers_done.set()
    for w in workers:
        w.join(timeout=60)
        assert not w.is_alive()

    expected = {f"job-{p}-{i}" for p in range(PRODUCERS) for i in range(JOBS_PER_PRODUCER)}
    assert len(delivered) == len(expected)
    assert set(delivered) == expected
    assert server.client().llen("jobs") == 0


def test_reliable_queue_with_blmove(server):
    client = server.client()
    client.flushall()
    client.rpush("pending", "a", "b")
    assert client.blmove("pending", "processing", timeout=1, src="LEFT", dest="RIGHT") == b"a"
    assert client.lrange("processing", 0, -1) == [b"a"]
    assert client.lrem("processing", 1, "a") == 1
    assert client.brpoplpush("pending", "processing", timeout=1) == b"b"
    assert client.blmove("pending", "processing", timeout=0.05) is None
    assert client.blpop(["pending"], timeout=0.05) is None
    assert client.blmpop(0.05, 1, "pending", direction="LEFT") is None
    client.rpush("pending", "c", "d", "e")
    assert client.blmpop(1, 2, "nothing", "pending", direction="RIGHT", count=2) == [
        b"pending",
        [b"e", b"d"],
    ]
    client.close()
