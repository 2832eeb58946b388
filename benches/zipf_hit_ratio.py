#!/usr/bin/env python3
"""Zipf GET-then-SET-on-miss workload for the eviction benchmark (benches/eviction.sh).

The request sequence is a pure function of (keys, requests, s, seed), so every server and the
exact-LRU simulation see the same keys in the same order. Requests go in pipelined batches: the
GETs of a batch first, then a SET of every key that missed, in request order. The simulation
applies the same batching, so the only difference between it and a server is the eviction policy.

  zipf_hit_ratio.py run PORT [options]         hit ratio of a server (prints one line of JSON)
  zipf_hit_ratio.py simulate CAPACITY [options]  hit ratio of an exact LRU of CAPACITY keys

The first --warmup fraction of the requests fills the cache and is not counted.
"""
import argparse
import bisect
import itertools
import json
import random
import socket
import sys
import time
from collections import OrderedDict


def key_sequence(keys, requests, s, seed):
    """Key numbers drawn with P(rank r) proportional to 1 / r^s; ranks are scattered over the
    key numbers by a fixed permutation so popular keys are not neighbours by name."""
    rng = random.Random(seed)
    cdf = list(itertools.accumulate(1.0 / (r ** s) for r in range(1, keys + 1)))
    total = cdf[-1]
    names = list(range(keys))
    rng.shuffle(names)
    draw = rng.random
    find = bisect.bisect_left
    return [names[find(cdf, draw() * total)] for _ in range(requests)]


def batches(seq, size):
    for at in range(0, len(seq), size):
        yield at, seq[at:at + size]


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=1 << 20)

    def reply(self):
        """One reply: True for a bulk string, False for nil, the text of a status or error."""
        line = self.reader.readline()
        kind = line[:1]
        if kind == b"$":
            n = int(line[1:-2])
            if n < 0:
                return False
            self.reader.read(n + 2)
            return True
        if kind in (b"+", b"-", b":"):
            return line[:-2].decode()
        raise RuntimeError("unexpected reply %r" % line)

    def command(self, *args):
        self.sock.sendall(resp(*[a if isinstance(a, bytes) else str(a).encode() for a in args]))
        return self.reply()

    def info(self, section):
        self.sock.sendall(resp(b"INFO", section.encode()))
        line = self.reader.readline()
        text = self.reader.read(int(line[1:-2]) + 2).decode()
        return dict(l.split(":", 1) for l in text.split("\r\n") if ":" in l)


def key_name(n):
    return b"key:%d" % n


def run_server(args, seq):
    conn = Conn(args.port)
    value = b"v" * args.value_size
    warm = int(len(seq) * args.warmup)
    hits = misses = errors = 0
    started = time.time()
    for at, batch in batches(seq, args.batch):
        names = [key_name(n) for n in batch]
        conn.sock.sendall(b"".join(resp(b"GET", k) for k in names))
        missed = []
        for i, k in enumerate(names):
            hit = conn.reply()
            if at + i >= warm:
                if hit:
                    hits += 1
                else:
                    misses += 1
            if not hit:
                missed.append(k)
        if missed:
            conn.sock.sendall(b"".join(resp(b"SET", k, value) for k in missed))
            for _ in missed:
                if conn.reply() != "+OK":
                    errors += 1
        if args.pause_ms:
            time.sleep(args.pause_ms / 1000)
    elapsed = time.time() - started
    mem = conn.info("memory")
    stats = conn.info("stats")
    keys = conn.command("DBSIZE")
    return {
        "hit_ratio": hits / max(1, hits + misses),
        "keys_held": int(keys[1:]),
        "used_memory": int(mem["used_memory"]),
        "maxmemory": int(mem["maxmemory"]),
        "evicted_keys": int(stats["evicted_keys"]),
        "set_errors": errors,
        "seconds": round(elapsed, 1),
    }


def simulate_lru(args, seq):
    cache = OrderedDict()
    capacity = args.capacity
    warm = int(len(seq) * args.warmup)
    hits = misses = 0
    for at, batch in batches(seq, args.batch):
        missed = []
        for i, k in enumerate(batch):
            hit = k in cache
            if hit:
                cache.move_to_end(k)
            else:
                missed.append(k)
            if at + i >= warm:
                if hit:
                    hits += 1
                else:
                    misses += 1
        for k in missed:
            cache[k] = True
            cache.move_to_end(k)
            if len(cache) > capacity:
                cache.popitem(last=False)
    return {"hit_ratio": hits / max(1, hits + misses), "keys_held": len(cache)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["run", "simulate"])
    p.add_argument("target", type=int, help="server port (run) or LRU capacity in keys (simulate)")
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=2_000_000)
    p.add_argument("--s", type=float, default=0.99)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument("--warmup", type=float, default=0.25)
    p.add_argument("--pause-ms", type=float, default=0, help="sleep between batches (slow runs)")
    args = p.parse_args()
    seq = key_sequence(args.keys, args.requests, args.s, args.seed)
    if args.mode == "run":
        args.port = args.target
        result = run_server(args, seq)
    else:
        args.capacity = args.target
        result = simulate_lru(args, seq)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
