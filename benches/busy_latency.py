#!/usr/bin/env python3
"""busy_latency.py PORT [LABEL]: how fast a server answers while a script is busy.

20 rounds of EVAL "while true do end" 0 with busy-reply-threshold 100 ms; once the server says
BUSY, times one PING (answers BUSY) and one SCRIPT KILL (answers +OK). Prints the median and
the maximum of each. Works against ferrocache and redis-server alike (raw RESP, no client
library). Pin the server with taskset and run this on another CPU.
"""
import socket
import sys
import time


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(30)
        self.file = self.sock.makefile("rb")

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for arg in args:
            arg = arg if isinstance(arg, bytes) else str(arg).encode()
            out += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self.sock.sendall(out)

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"*":
            return [self.read() for _ in range(max(int(rest), 0))]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        return line[:-2]

    def cmd(self, *args):
        self.send(*args)
        return self.read()


def main():
    port = int(sys.argv[1])
    label = sys.argv[2] if len(sys.argv) > 2 else str(port)
    probe = Conn(port)
    probe.cmd("CONFIG", "SET", "busy-reply-threshold", "100")
    pings, kills = [], []
    for _ in range(20):
        runner = Conn(port)
        runner.send("EVAL", "while true do end", "0")
        while not probe.cmd("PING").startswith(b"-BUSY"):
            time.sleep(0.001)
        t = time.perf_counter()
        assert probe.cmd("PING").startswith(b"-BUSY")
        pings.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert probe.cmd("SCRIPT", "KILL") == b"+OK"
        kills.append(time.perf_counter() - t)
        runner.read()
        runner.sock.close()

    def summary(values):
        values.sort()
        return "median %.2f ms, max %.2f ms" % (values[len(values) // 2] * 1e3, values[-1] * 1e3)

    print(f"{label}: PING -> BUSY {summary(pings)} | SCRIPT KILL -> +OK {summary(kills)}")


if __name__ == "__main__":
    main()
