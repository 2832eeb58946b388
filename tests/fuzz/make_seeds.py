#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/seeds/<target>/*.bin) from valid
inputs: the differential scripts as client traffic, DUMP payloads, an RDB file and an AOF that a
real redis-server wrote, redis.conf samples, ACL rules and BITFIELD/SORT arguments. Each file is one input in the layout
its target reads (see src/fuzz_api.rs). Run from the repository root; needs redis-server.

    python3 tests/fuzz/make_seeds.py
    python3 tests/fuzz/make_seeds.py command_args    # only that target's seeds (or request)
"""

import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "seeds")
SEED_BYTES_MAX = 8 << 10


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".bin"), "wb") as f:
        f.write(data)


def words_of(line):
    """A differential-script line split like redis-cli (good enough for seeds)."""
    try:
        return [w.encode("latin-1", "replace") for w in shlex.split(line, posix=True)]
    except ValueError:
        return None


def resp(argv):
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def script_lines(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("@"):
            yield line


def request_seeds():
    for i, path in enumerate(sorted(glob.glob(os.path.join(ROOT, "tests/differential/*.redis")))):
        name = os.path.basename(path)[:-6]
        multibulk, inline = b"", b""
        for line in script_lines(path):
            argv = words_of(line)
            if argv:
                multibulk += resp(argv)
            inline += line.encode("utf-8", "replace") + b"\r\n"
        # flags byte: bit 0 authenticated, bits 1-2 bulk limit, bit 3 shared static names,
        # bit 4 argument vectors recycled; then a chunking seed
        write("request", name + "-resp", bytes([1 | (i & 3) << 3, i & 0xFF]) + multibulk[:SEED_BYTES_MAX])
        write("request", name + "-inline", bytes([i & 1, (i * 7) & 0xFF]) + inline[:SEED_BYTES_MAX])
    # the shared name (set/SET) beside near misses, in both forms, argument vectors recycled
    names = b"".join(resp(a) for a in ([b"SET", b"k", b"v"], [b"set", b"k", b"v"], [b"Set", b"k"],
                                       [b"SETX", b"k"], [b"se"], [b"SET", b"a", b"b", b"c", b"d", b"e"]))
    write("request", "names-resp", bytes([0x19, 3]) + names)
    write("request", "names-inline", bytes([0x19, 1]) + b"SET k v\r\nset k v\r\nSeT k\r\nsets\r\n")
    hostile = [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        b"*1\r\n$4\r\nPING\r\n*0\r\n*-1\r\n\r\n\n",
        b"PING\x00\r\nPING\r\n",
        b'SET "a\\x41" \'b\\\'c\'\r\n',
        b"*11\r\n$1\r\na\r\n",
        b"*2\r\n$20000\r\n",
        b"$blabla\r\n",
        b"*3000000000\r\n",
        b'"unbalanced\r\n',
    ]
    # around the 64 KiB inline limit (a line just under it, then one that never ends)
    hostile.append(b"SET k " + b"v" * (65536 - 8) + b"\r\nPING\r\n")
    hostile.append(b"*1\r\n$" + b"9" * 65540)
    for i, h in enumerate(hostile):
        write("request", "hostile-%d" % i, bytes([i & 7, i]) + h)


def connect(port):
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def call(sock, *argv):
    sock.sendall(resp([a if isinstance(a, bytes) else str(a).encode() for a in argv]))
    f = sock.makefile("rb")
    return read_reply(f)


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    return rest


def populate(sock):
    call(sock, "SET", "str", "hello")
    call(sock, "SET", "int", "12345")
    call(sock, "SET", "raw", "x" * 100)
    call(sock, "SET", "vol", "v", "PX", "100000000")
    call(sock, "RPUSH", "list", "a", "b", "1", "-7", "9999999999")
    call(sock, "RPUSH", "biglist", *["e%d" % i for i in range(200)])
    call(sock, "SADD", "intset", 1, 2, 3, -70000, 1 << 40)
    call(sock, "SADD", "set", "a", "b", "c")
    call(sock, "SADD", "bigset", *["m%d" % i for i in range(200)])
    call(sock, "ZADD", "zset", 1, "a", 2.5, "b", "-inf", "c")
    call(sock, "ZADD", "bigzset", *[x for i in range(200) for x in (i, "m%d" % i)])
    call(sock, "HSET", "hash", "f", "v", "n", 5)
    call(sock, "HSET", "bighash", *[x for i in range(200) for x in ("f%d" % i, "v" * (i % 70))])
    call(sock, "SELECT", 3)
    call(sock, "SET", "db3", "y")
    call(sock, "SELECT", 0)
    return ["str", "int", "raw", "list", "biglist", "intset", "set", "bigset", "zset",
            "bigzset", "hash", "bighash"]


def server_seeds():
    redis = shutil.which("redis-server")
    if not redis:
        print("redis-server not found: no restore/rdb/aof seeds", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as d:
        with socket.socket() as probe:  # a free loopback port
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        proc = subprocess.Popen(
            [redis, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
             "--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            sock = connect(port)
            keys = populate(sock)
            for key in keys:
                payload = call(sock, "DUMP", key)
                write("restore", "dump-" + key, payload[:-10])  # the target adds the footer
            call(sock, "SAVE")
            time.sleep(0.2)
            rdb = open(os.path.join(d, "dump.rdb"), "rb").read()
            write("rdb", "redis-dump", b"\x00" + rdb)
            write("rdb", "redis-dump-window", b"\x03" + rdb)
            call(sock, "FLUSHALL")
            call(sock, "SET", "only", "one")
            call(sock, "SAVE")
            time.sleep(0.2)
            write("rdb", "redis-small", b"\x00" + open(os.path.join(d, "dump.rdb"), "rb").read())
            adir = os.path.join(d, "appendonlydir")
            manifest = open(glob.glob(os.path.join(adir, "*.manifest"))[0], "rb").read()
            call(sock, "MULTI")
            call(sock, "INCR", "n")
            call(sock, "EXEC")
            incr = open(sorted(glob.glob(os.path.join(adir, "*.incr.aof")))[-1], "rb").read()
            write("aof", "redis-aof", bytes([len(manifest)]) + manifest + incr[:SEED_BYTES_MAX])
            write("aof", "redis-aof-torn", bytes([len(manifest)]) + manifest + incr[:SEED_BYTES_MAX][:-5])
        finally:
            proc.terminate()
            proc.wait()


def config_seeds():
    samples = ["/etc/redis/redis.conf"]
    for path in samples:
        if os.path.exists(path):
            text = open(path, "rb").read()
            # the active lines only (the comments are most of the file)
            active = b"\n".join(l for l in text.splitlines() if l.strip() and not l.startswith(b"#"))
            write("config", "redis-conf-active", active)
    write("config", "small", b'port 6380\nsave 3600 1 300 100\nmaxmemory 1gb\n'
          b'maxmemory-policy allkeys-lru\nclient-output-buffer-limit pubsub 32mb 8mb 60\n'
          b'user alice on >pw ~app:* +@read\nrename-command FLUSHALL ""\n'
          b'bind 127.0.0.1 -::1\nnotify-keyspace-events KEA\nappendonly no\n'
          b'\x00--port\x006381\x00--save\x00\x00--maxmemory\x00100mb')


def acl_seeds():
    rules = []
    for path in glob.glob(os.path.join(ROOT, "tests/differential/9[89]_acl*.redis")):
        for line in script_lines(path):
            argv = line.split(None, 3)
            if len(argv) == 4 and argv[0].upper() == "ACL" and argv[1].upper() == "SETUSER":
                rules.append(argv[3])
    for i, r in enumerate(rules[:60]):
        write("acl", "setuser-%d" % i, b"\x00" + r.encode("utf-8", "replace"))
    write("acl", "aclfile", b"\x01" + b"user default on nopass ~* &* +@all\n"
          b"user alice on #" + b"a" * 64 + b" ~app:* %R~ro:* &news.* +@read -debug +config|get\n"
          b"user bob off resetchannels (~x +get) (+set ~y)\n")


COMMAND_ARGS = [b"BITFIELD", b"BITFIELD_RO", b"SORT", b"SORT_RO"]
FIXTURE_KEYS = [b"s", b"n", b"l", b"la", b"st", b"z", b"h_1", b"nosuch"]


def command_args_seeds():
    """BITFIELD/SORT lines of the differential scripts, on their own key and on a key of the
    target's fixture (fuzz_api::ARG_FIXTURE), plus the fixture's BY/GET patterns."""
    lines = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/differential/*.redis"))):
        for line in script_lines(path):
            argv = words_of(line)
            if argv and argv[0].upper() in COMMAND_ARGS and len(argv) >= 2:
                lines.append(argv)
    lines += [
        [b"SORT", b"l", b"BY", b"w_*", b"GET", b"#", b"GET", b"o_*", b"GET", b"h_*->f"],
        [b"SORT", b"st", b"BY", b"h_*->f", b"DESC", b"LIMIT", b"1", b"2", b"STORE", b"dst"],
        [b"SORT_RO", b"la", b"ALPHA", b"BY", b"nosort", b"GET", b"h_*->g"],
        [b"SORT", b"z", b"BY", b"w_*", b"ALPHA", b"LIMIT", b"-1", b"4294967296"],
        [b"BITFIELD", b"s", b"OVERFLOW", b"FAIL", b"INCRBY", b"u2", b"#1", b"3", b"GET", b"i64", b"0"],
        [b"BITFIELD", b"n", b"SET", b"u8", b"#1048575", b"255", b"OVERFLOW", b"SAT", b"INCRBY", b"i7", b"8388599", b"-100"],
        [b"BITFIELD_RO", b"s", b"GET", b"u63", b"#0", b"GET", b"i1", b"8388607"],
    ]
    seen = set()
    n = 0
    for argv in lines:
        cmd = COMMAND_ARGS.index(argv[0].upper())
        # its own key and one of the fixture's, in turn
        for key in [argv[1], FIXTURE_KEYS[len(seen) % len(FIXTURE_KEYS)]]:
            args = [key] + argv[2:]
            sep = next(b for b in b"\x00\n\x01 " if all(bytes([b]) not in a for a in args))
            for restricted in (0, 4) if cmd >= 2 else (0,):
                data = bytes([cmd | restricted, sep]) + bytes([sep]).join(args)
                if data in seen or len(data) > SEED_BYTES_MAX:
                    continue
                seen.add(data)
                write("command_args", "%s-%d" % (argv[0].decode().lower(), n), data)
                n += 1


if __name__ == "__main__":
    if sys.argv[1:] in (["command_args"], ["request"]):
        # only this target's seeds (these two need no redis-server)
        target = sys.argv[1]
        for old in glob.glob(os.path.join(OUT, target, "*.bin")):
            if not os.path.basename(old).startswith("regress-"):
                os.remove(old)
        {"command_args": command_args_seeds, "request": request_seeds}[target]()
        sys.exit(0)
    # regress-*.bin are inputs that once failed (kept by hand); everything else is regenerated
    for old in glob.glob(os.path.join(OUT, "*", "*.bin")):
        if not os.path.basename(old).startswith("regress-"):
            os.remove(old)
    request_seeds()
    server_seeds()
    config_seeds()
    acl_seeds()
    command_args_seeds()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print("%-8s %3d seeds %7d bytes" % (t, len(files), size))
