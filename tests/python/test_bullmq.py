"""BullMQ (Node) against ferrocache and redis-server (the `server` fixture runs each test on
both): queue, worker, retries with backoff, a delayed job, job events and the rate limiter.
BullMQ's commands are Lua scripts that use cmsgpack and write every job event with XADD; the
script prints one JSON line, which must be the same on both servers. tests/run.sh installs
Node.js, npm and the package (tests/node/).
"""

import json
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).parent.parent / "node"


def test_bullmq_queue_worker_retries_delays_and_events(server):
    node = shutil.which("node")
    assert node, "Node.js is installed by tests/run.sh"
    assert (NODE_DIR / "node_modules" / "bullmq").is_dir(), "tests/run.sh installs bullmq"
    server.client().flushall()
    out = subprocess.run(
        [node, "bullmq_roundtrip.js", str(server.port)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {
        "results": [5, 2, 10],
        "counts": {"completed": 3, "failed": 0, "delayed": 0, "wait": 0},
        "attempts": {"sum": 1, "delayed": 1, "flaky": 3},
    }
