#!/usr/bin/env python3
"""Sends the same commands to two servers and prints every reply that differs (raw RESP).

Usage: scripts/diff-replies.py OURS_PORT REDIS_PORT [FILE]
Commands are read one per line (redis-cli quoting; '#' starts a comment) from FILE or stdin.
Both servers get FLUSHALL first. Exit status 1 when any reply differs.
"""
import shlex
import socket
import sys


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        raw = line + b"\r\n"
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n >= 0:
                raw += self._exact(n + 2)
        elif t in (b"*", b"~", b">", b"%", b"|"):
            n = int(rest)
            if t in (b"%", b"|"):
                n *= 2
            for _ in range(max(n, 0)):
                raw += self.reply()
        return raw

    def call(self, args):
        self.s.sendall(encode(args))
        return self.reply()


def main():
    ours, theirs = Conn(int(sys.argv[1])), Conn(int(sys.argv[2]))
    src = open(sys.argv[3]) if len(sys.argv) > 3 else sys.stdin
    for c in (ours, theirs):
        c.call(["FLUSHALL"])
    bad = 0
    for line in src:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        args = shlex.split(line)
        a, b = ours.call(args), theirs.call(args)
        if a != b:
            bad += 1
            print(f"DIFF {line}\n  ours:  {a!r}\n  redis: {b!r}")
    print(f"{bad} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
