"""TLS and unix sockets as the Odoo session stores use them, against ferrocache and
redis-server started alike: camptocamp session_redis's `redis.from_url(rediss://...)`, mangono's
`redis.Redis(host, port, ssl=True)` (its default) and the same with SSL off, server certificate
verification on, mutual TLS, and `unix_socket_path`. Certificates are made with openssl."""

import os
import ssl
import subprocess
import tempfile
import uuid

import pytest
import redis
import redis.backoff
import redis.retry

from conftest import _free_port, _stop, start_ferrocache, start_redis_server


NO_RETRY = redis.retry.Retry(redis.backoff.NoBackoff(), 0)


def _openssl(workdir, *args):
    subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki():
    workdir = tempfile.mkdtemp(prefix="ferrocache-pki-")
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    with open(os.path.join(workdir, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for ca in ("ca", "other-ca"):
        _openssl(workdir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
                 "-subj", f"/CN={ca}")
    for name, ext in (("server", "server.ext"), ("client", "client.ext")):
        _openssl(workdir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        _openssl(workdir, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext)
    yield {name: os.path.join(workdir, f"{name}") for name in (
        "ca.crt", "other-ca.crt", "server.crt", "server.key", "client.crt", "client.key")} | {"dir": workdir}


@pytest.fixture(scope="module", params=["ferrocache", "redis-server"])
def tls_server(request, pki):
    tls_port = _free_port()
    sock = os.path.join(pki["dir"], f"{request.param}.sock")
    args = ("--tls-port", str(tls_port), "--tls-cert-file", pki["server.crt"],
            "--tls-key-file", pki["server.key"], "--tls-ca-cert-file", pki["ca.crt"],
            "--unixsocket", sock, "--unixsocketperm", "770")
    server = start_ferrocache(*args) if request.param == "ferrocache" else start_redis_server(*args)
    server.tls_port = tls_port
    server.sock = sock
    try:
        yield server
    finally:
        _stop(server.proc)


def _session_roundtrip(r):
    """camptocamp session_redis's calls: SET + EXPIRE (a string TTL), GET, KEYS, DEL."""
    key = f"session:{uuid.uuid4().hex}"
    r.set(key, '{"uid": 2, "login": "admin"}')
    r.expire(key, "604800")
    assert r.get(key) == b'{"uid": 2, "login": "admin"}'
    assert 0 < r.ttl(key) <= 604800
    assert key.encode() in r.keys("session:*")
    assert r.delete(key) == 1


def test_camptocamp_rediss_url_with_verification(tls_server, pki):
    url = (f"rediss://127.0.0.1:{tls_server.tls_port}/1?ssl_ca_certs={pki['ca.crt']}"
           f"&ssl_certfile={pki['client.crt']}&ssl_keyfile={pki['client.key']}")
    r = redis.from_url(url)
    _session_roundtrip(r)
    assert r.client_info()["db"] == 1
    r.close()


def test_mangono_ssl_default_and_ssl_off(tls_server, pki):
    r = redis.Redis(host="127.0.0.1", port=tls_server.tls_port, ssl=True,
                    ssl_ca_certs=pki["ca.crt"], ssl_certfile=pki["client.crt"],
                    ssl_keyfile=pki["client.key"])
    assert "expire" in [name.lower() if isinstance(name, str) else name.decode().lower()
                        for name in r.command_list()]
    _session_roundtrip(r)
    r.close()
    plain = redis.Redis(host="127.0.0.1", port=tls_server.port, ssl=False)
    _session_roundtrip(plain)
    plain.close()


def test_verification_and_mutual_tls_refusals(tls_server, pki):
    # A server certificate from a CA the client does not trust is refused by the client.
    wrong_ca = redis.Redis(host="127.0.0.1", port=tls_server.tls_port, ssl=True,
                           ssl_ca_certs=pki["other-ca.crt"], ssl_certfile=pki["client.crt"],
                           ssl_keyfile=pki["client.key"], socket_timeout=5, retry=NO_RETRY)
    with pytest.raises(redis.exceptions.ConnectionError):
        wrong_ca.ping()
    # No client certificate: the server refuses (tls-auth-clients yes is the default).
    no_cert = redis.Redis(host="127.0.0.1", port=tls_server.tls_port, ssl=True,
                          ssl_ca_certs=pki["ca.crt"], socket_timeout=5, retry=NO_RETRY)
    with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError)):
        no_cert.ping()


def test_unix_socket_path(tls_server):
    assert oct(os.stat(tls_server.sock).st_mode & 0o777) == "0o770"
    r = redis.Redis(unix_socket_path=tls_server.sock, db=2)
    _session_roundtrip(r)
    info = r.client_info()
    assert info["addr"] == f"{tls_server.sock}:0"
    assert "U" in info["flags"]
    r.close()
    by_url = redis.from_url(f"unix://{tls_server.sock}?db=3")
    assert by_url.ping()
    by_url.close()
