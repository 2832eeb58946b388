"""A Sidekiq-style job flow in Ruby (Debian's ruby-redis), against ferrocache and redis-server:
JSON jobs on queue lists, a Lua scheduler poller with cjson, BRPOP fetches, BITFIELD counters and
a BITFIELD rate limiter (tests/ruby/sidekiq_style.rb). Both servers must print the same report,
and the report is checked against what the flow must produce. tests/run.sh installs Ruby.
"""

import json
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "ruby" / "sidekiq_style.rb"

EXPECTED = {
    "moved": 1,
    "results": [3, 7, 30],
    "processed": "3",
    "failed": "1",
    "daily": [3, 1],
    "limiter": [2, 4, 6, 8, 10, 12, 14, 15, 15, 15, 15, 15],
    "queues": ["default", "mailers"],
    "scheduled_left": 1,
}


def test_sidekiq_style_flow(server):
    ruby = shutil.which("ruby")
    assert ruby, "Ruby and ruby-redis are installed by tests/run.sh"
    out = subprocess.run(
        [ruby, str(SCRIPT), str(server.port)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == EXPECTED
