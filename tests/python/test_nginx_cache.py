"""The response-cache recipe of docs/recipes/nginx.md, run as written with Debian's nginx and its
srcache and memc modules in front of a small stand-in for an Odoo controller, with ferrocache's
memcached listener as the cache.

The nginx configuration is the block between the recipe's markers, with the upstream addresses
replaced by this test's ports. nginx runs in the foreground with a temporary prefix; every
server listens on a free loopback port.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO_ROOT, _free_port, _stop, start_ferrocache

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MODULES = Path("/usr/lib/nginx/modules")
RECIPE = REPO_ROOT / "docs" / "recipes" / "nginx.md"
CACHE_DB = 1


def recipe_block():
    doc = RECIPE.read_text()
    block = doc.split("<!-- nginx-recipe:begin -->", 1)[1].split("<!-- nginx-recipe:end -->", 1)[0]
    return block.split("```nginx\n", 1)[1].split("```", 1)[0]


class Odoo(BaseHTTPRequestHandler):
    """Stands in for Odoo's controllers: a JSON list of contacts with Cache-Control: public,
    max-age and an ETag, and routes that must never be cached."""

    protocol_version = "HTTP/1.1"
    served = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        path, _, query = self.path.partition("?")
        with Odoo.lock:
            Odoo.served[self.path] = Odoo.served.get(self.path, 0) + 1
            count = Odoo.served[self.path]
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        max_age = params.get("ttl", "60")
        status, headers = 200, {"Cache-Control": f"public, max-age={max_age}"}
        if path.startswith("/api/contact"):
            contacts = [{"id": 1, "name": "Azure Interior"}, {"id": 2, "name": "Deco Addict"}]
            body = {"contacts": contacts, "path": self.path, "served": count,
                    "lang": self.headers.get("Accept-Language", "")}
            etag = '"contacts-v1"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        elif path.startswith("/shop/"):
            # A rendered HTML fragment (the JSON-only `served` helper reads its counter).
            body = {"html": "<div class='contact'>Azure Interior</div>", "served": count}
        elif path == "/api/private":
            headers["Cache-Control"] = "private, max-age=60"
            body = {"user": "me", "served": count}
        elif path == "/api/nostore":
            headers["Cache-Control"] = "no-store"
            body = {"served": count}
        elif path == "/api/cookie":
            headers["Set-Cookie"] = "session_id=abc; HttpOnly"
            body = {"served": count}
        elif path == "/api/nottl":
            headers = {}
            body = {"served": count}
        elif path == "/api/error":
            status = 500
            body = {"error": "boom", "served": count}
        else:
            status, body = 404, {"error": "not found", "served": count}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def start_odoo(port=0):
    server = ThreadingHTTPServer(("127.0.0.1", port), Odoo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Nginx:
    def __init__(self, memcached_port, odoo_port, other_block=None):
        """The recipe's block, or `other_block(port, prefix)` (benches/nginx_cache.py)."""
        self.prefix = Path(tempfile.mkdtemp(prefix="nginx-ferrocache-"))
        self.port = _free_port()
        block = other_block(self.port, self.prefix) if other_block else (recipe_block()
                 .replace("127.0.0.1:11211", f"127.0.0.1:{memcached_port}")
                 .replace("127.0.0.1:8069", f"127.0.0.1:{odoo_port}")
                 .replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{self.port}"))
        temp = "\n".join(f"  {kind}_temp_path {self.prefix / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""
        conf = f"""
load_module {MODULES / 'ngx_http_memc_module.so'};
load_module {MODULES / 'ngx_http_srcache_filter_module.so'};
worker_processes 1;
daemon off;
{user}
pid {self.prefix / 'nginx.pid'};
error_log {self.prefix / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
{temp}
{block}
}}
"""
        (self.prefix / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
             "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx failed: " + self.proc.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("nginx did not start")

    def get(self, path, headers=None, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, headers={"Host": "shop.example.com", **(headers or {})})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, resp.getheader("X-Cache"), resp, body

    def stop(self):
        # SIGTERM: the master stops its worker and exits.
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)


def have_modules():
    return (Path(NGINX).exists() and (MODULES / "ngx_http_memc_module.so").exists()
            and (MODULES / "ngx_http_srcache_filter_module.so").exists())


@pytest.fixture(scope="module")
def stack():
    if not have_modules():
        pytest.fail("nginx with the srcache and memc modules is not installed (tests/run.sh installs it)")
    memcached_port = _free_port()
    cache = start_ferrocache("--memcached-port", str(memcached_port), "--memcached-db", str(CACHE_DB))
    odoo = start_odoo()
    a = b = None
    try:
        a = Nginx(memcached_port, odoo.server_address[1])
        b = Nginx(memcached_port, odoo.server_address[1])
        yield {"cache": cache, "odoo": odoo, "a": a, "b": b, "memcached_port": memcached_port}
    finally:
        for nginx in (a, b):
            if nginx is not None:
                nginx.stop()
        odoo.shutdown()
        odoo.server_close()
        _stop(cache.proc)
        shutil.rmtree(cache.workdir, ignore_errors=True)


@pytest.fixture
def cache(stack):
    client = stack["cache"].client(CACHE_DB)
    client.flushdb()
    yield client
    client.close()


def key(path, method="GET", vary=""):
    return f"rc:{method}:shop.example.com:{vary}:{path}"


def served(body):
    return json.loads(body[body.index(b"{"):])["served"]


def test_miss_then_hit(stack, cache):
    nginx = stack["a"]
    status, xcache, resp, body = nginx.get("/api/contact")
    assert (status, xcache) == (200, "MISS")
    first = served(body)
    status, xcache, resp, body = nginx.get("/api/contact")
    assert (status, xcache) == (200, "HIT")
    assert served(body) == first, "a HIT is the stored response: the upstream was not asked"
    assert resp.getheader("ETag") == '"contacts-v1"'
    assert resp.getheader("Content-Type") == "application/json"
    # The entry is a plain key with the response's max-age as its TTL.
    assert 0 < cache.ttl(key("/api/contact")) <= 60
    assert cache.get(key("/api/contact")).startswith(b"HTTP/1.1 200 OK\r\n")
    # The method is part of the key: HEAD has its own entry; other methods bypass the cache.
    assert nginx.get("/api/contact", method="HEAD")[1] == "MISS"
    assert nginx.get("/api/contact", method="POST")[1] == "BYPASS"


def test_expiry_after_max_age(stack, cache):
    nginx = stack["a"]
    path = "/api/contact?ttl=1"
    assert nginx.get(path)[1] == "MISS"
    assert nginx.get(path)[1] == "HIT"
    assert cache.ttl(key(path)) == 1
    deadline = time.monotonic() + 10
    while cache.exists(key(path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert nginx.get(path)[1] == "MISS", "expired with its max-age"


@pytest.mark.parametrize("path", ["/api/private", "/api/nostore", "/api/cookie", "/api/error", "/api/nottl", "/missing"])
def test_uncacheable_responses_are_never_stored(stack, cache, path):
    nginx = stack["a"]
    first = nginx.get(path)
    second = nginx.get(path)
    assert (first[1], second[1]) == ("MISS", "MISS")
    assert served(second[3]) == served(first[3]) + 1
    assert cache.dbsize() == 0


def test_invalidation_by_resp_del(stack, cache):
    nginx = stack["a"]
    _, _, _, body = nginx.get("/api/contact")
    assert nginx.get("/api/contact")[1] == "HIT"
    assert cache.delete(key("/api/contact")) == 1
    status, xcache, _, fresh = nginx.get("/api/contact")
    assert (status, xcache) == (200, "MISS")
    assert served(fresh) == served(body) + 1
    assert nginx.get("/api/contact")[1] == "HIT"


def test_invalidation_by_prefix(stack, cache):
    nginx = stack["a"]
    contact_paths = ["/api/contact", "/api/contact?page=2", "/api/contacts/7"]
    for path in contact_paths + ["/api/other"]:
        nginx.get(path)
    # /api/other is a 404, never stored; a contact page outside /api stays cached.
    nginx.get("/shop/contact")
    for path in contact_paths:
        assert nginx.get(path)[1] == "HIT"
    doomed = list(cache.scan_iter(match="rc:*:/api/contact*", count=1000))
    assert len(doomed) == len(contact_paths)
    cache.unlink(*doomed)
    for path in contact_paths:
        assert nginx.get(path)[1] == "MISS"
    assert nginx.get("/shop/contact")[1] == "HIT", "entries outside the prefix stay"


def test_two_nginx_instances_share_one_cache(stack, cache):
    a, b = stack["a"], stack["b"]
    status, xcache, _, body = a.get("/api/contact?shared=1")
    assert xcache == "MISS"
    status, xcache, _, other = b.get("/api/contact?shared=1")
    assert (status, xcache) == (200, "HIT")
    assert served(other) == served(body)


def test_vary_header_gets_its_own_entry(stack, cache):
    nginx = stack["a"]
    fr = {"Accept-Language": "fr-BE,fr;q=0.9"}
    en = {"Accept-Language": "en-US,en;q=0.8"}
    assert nginx.get("/api/contact?v=1", fr)[1] == "MISS"
    assert nginx.get("/api/contact?v=1", en)[1] == "MISS"
    status, xcache, _, body = nginx.get("/api/contact?v=1", fr)
    assert xcache == "HIT" and json.loads(body)["lang"].startswith("fr")
    assert cache.exists(key("/api/contact?v=1", vary="fr-BE"), key("/api/contact?v=1", vary="en-US")) == 2


def test_if_none_match_is_answered_304_from_the_cache(stack, cache):
    nginx = stack["a"]
    _, _, resp, body = nginx.get("/api/contact?etag=1")
    etag = resp.getheader("ETag")
    before = Odoo.served["/api/contact?etag=1"]
    status, xcache, resp, body = nginx.get("/api/contact?etag=1", {"If-None-Match": etag})
    assert (status, xcache) == (304, "HIT")
    assert body == b""
    assert Odoo.served["/api/contact?etag=1"] == before, "answered by nginx from the cache"
    status, xcache, _, _ = nginx.get("/api/contact?etag=1", {"If-None-Match": '"other"'})
    assert (status, xcache) == (200, "HIT")


def test_upstream_down_serves_hits_and_502_for_misses(stack, cache):
    nginx = stack["a"]
    memcached_port = stack["memcached_port"]
    odoo = start_odoo()
    lone = Nginx(memcached_port, odoo.server_address[1])
    try:
        assert lone.get("/api/contact?down=1")[1] == "MISS"
        odoo.shutdown()
        odoo.server_close()
        status, xcache, _, _ = lone.get("/api/contact?down=1")
        assert (status, xcache) == (200, "HIT"), "a cached response outlives its upstream"
        status, xcache, _, _ = lone.get("/api/contact?down=2")
        assert (status, xcache) == (502, "MISS")
        assert not cache.exists(key("/api/contact?down=2")), "a 502 is never stored"
    finally:
        lone.stop()


def test_cache_down_passes_through_to_the_upstream(stack):
    memcached_port = _free_port()
    cache = start_ferrocache("--memcached-port", str(memcached_port), "--memcached-db", str(CACHE_DB))
    lone = Nginx(memcached_port, stack["odoo"].server_address[1])
    try:
        assert lone.get("/api/contact?cache-down=1")[1] == "MISS"
        assert lone.get("/api/contact?cache-down=1")[1] == "HIT"
        _stop(cache.proc)
        first = lone.get("/api/contact?cache-down=1")
        second = lone.get("/api/contact?cache-down=1")
        assert (first[0], first[1], second[0], second[1]) == (200, "MISS", 200, "MISS")
        assert served(second[3]) == served(first[3]) + 1
    finally:
        lone.stop()
        _stop(cache.proc)
        shutil.rmtree(cache.workdir, ignore_errors=True)


def test_compose_nginx_conf_is_the_recipe():
    """docker/nginx.conf carries the tested recipe, with the compose service names."""
    expected = (recipe_block()
                .replace("127.0.0.1:11211", "cache:11211")
                .replace("127.0.0.1:8069", "odoo:8069")
                .replace("listen 127.0.0.1:8080", "listen 80"))
    conf = (REPO_ROOT / "docker" / "nginx.conf").read_text()
    dedented = "\n".join(line[4:] if line.startswith("    ") else line for line in conf.split("\n"))
    assert expected.strip() in dedented
