"""nginx response-cache figures, one run: requests/s and p50/p99 latency (wrk) of
  1. the upstream alone (the stand-in Odoo controller of tests/python/test_nginx_cache.py),
  2. nginx + ferrocache (docs/recipes/nginx.md), every request a HIT,
  3. nginx's own proxy_cache on disk, every request a HIT.
Servers (ferrocache, nginx, the upstream) are pinned to CPU 0 with taskset, wrk to CPU 1.

    cargo build --release && python3 benches/nginx_cache.py

Environment: FERROCACHE_BIN (default target/release/ferrocache), DURATION (wrk seconds, 10),
CONNS (wrk connections, 50). Writes nothing to the repository.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
os.environ.setdefault("FERROCACHE_BIN", str(ROOT / "target" / "release" / "ferrocache"))

import test_nginx_cache as recipe  # noqa: E402
from conftest import _free_port, _stop, start_ferrocache  # noqa: E402

DURATION = os.environ.get("DURATION", "10")
CONNS = os.environ.get("CONNS", "50")
PATH = "/api/contact"


def pin(pid, cpu="0"):
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, stdout=subprocess.DEVNULL)


def proxy_cache_block(odoo_port, port, prefix):
    return f"""
proxy_cache_path {prefix}/proxy_cache levels=1:2 keys_zone=pc:10m max_size=1g inactive=10m use_temp_path=off;
upstream odoo {{ server 127.0.0.1:{odoo_port}; }}
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_cache pc;
        proxy_cache_key "$request_method:$host:$request_uri";
        proxy_set_header Host $host;
        proxy_set_header Accept-Encoding "";
        add_header X-Cache $upstream_cache_status always;
        proxy_pass http://odoo;
    }}
}}
"""


def wrk(port, label):
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--latency",
         "-H", "Host: shop.example.com", f"http://127.0.0.1:{port}{PATH}"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(f"{label:<28} {rps:>10.0f} {pct(50):>9.2f} {pct(99):>9.2f}"
          + (f"   ({non2xx.group(1)} non-2xx)" if non2xx else ""))
    return rps


def main():
    memcached_port = _free_port()
    cache = start_ferrocache("--memcached-port", str(memcached_port), "--memcached-db", "1",
                             "--save", "")
    odoo = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, sys.argv[1]); import test_nginx_cache as t; "
         "s = t.start_odoo(int(sys.argv[2])); import time; time.sleep(1e9)",
         str(ROOT / "tests" / "python"), str(odoo_port := _free_port())])
    fc_nginx = pc_nginx = None
    try:
        import socket
        import time
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", odoo_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        fc_nginx = recipe.Nginx(memcached_port, odoo_port)
        # The same wrapper with proxy_cache instead of the recipe's block.
        pc_nginx = recipe.Nginx(memcached_port, odoo_port,
                                lambda port, prefix: proxy_cache_block(odoo_port, port, prefix))
        for pid in (cache.proc.pid, odoo.pid, fc_nginx.proc.pid, pc_nginx.proc.pid):
            pin(pid)
        for nginx in (fc_nginx, pc_nginx):
            workers = subprocess.run(["pgrep", "-P", str(nginx.proc.pid)], capture_output=True,
                                     text=True).stdout.split()
            for w in workers:
                pin(int(w))
        # Warm both caches; check that the measured path is a HIT.
        for nginx in (fc_nginx, pc_nginx):
            nginx.get(PATH)
            assert nginx.get(PATH)[1] == "HIT", nginx.get(PATH)
        print(f"{'target':<28} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
        upstream = wrk(odoo_port, "upstream alone")
        hit = wrk(fc_nginx.port, "nginx + ferrocache HIT")
        disk = wrk(pc_nginx.port, "nginx proxy_cache HIT")
        print(f"\nnginx + ferrocache HIT / upstream: {hit / upstream:.1f}x;"
              f" / nginx proxy_cache HIT: {hit / disk:.2f}")
    finally:
        for nginx in (fc_nginx, pc_nginx):
            if nginx is not None:
                nginx.stop()
        odoo.kill()
        odoo.wait()
        _stop(cache.proc)


if __name__ == "__main__":
    main()
