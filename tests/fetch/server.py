#!/usr/bin/env python3
"""A small HTTP server for the fetch tests: serves a directory on 127.0.0.1, honours Range
requests, keeps connections alive, and misbehaves on request.

  server.py ROOT PORTFILE

It binds an ephemeral port and writes it to PORTFILE. Before each request it reads ROOT/.rules,
lines of "SUBSTRING MODE [COUNT]": for a request path containing SUBSTRING it
  fail503   answers 503 Service Unavailable,
  truncate  sends the headers of the whole file but only half of its body, then closes,
  hang      accepts and never answers,
  slow      sends the body in 16 KiB pieces, 0.1 s apart,
COUNT times (default: always); later requests are served normally. Every request is appended
to ROOT/.log as "METHOD PATH RANGE-or--".
"""
import http.server
import os
import sys
import threading
import time

ROOT, PORTFILE = sys.argv[1], sys.argv[2]
counts = {}
lock = threading.Lock()


def rule_for(path):
    try:
        with open(os.path.join(ROOT, ".rules")) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
    except FileNotFoundError:
        return None
    for words in lines:
        sub, mode = words[0], words[1]
        limit = int(words[2]) if len(words) > 2 else None
        if sub in path:
            with lock:
                used = counts.get((sub, mode), 0)
                if limit is not None and used >= limit:
                    continue
                counts[(sub, mode)] = used + 1
            return mode
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with lock, open(os.path.join(ROOT, ".log"), "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Range", "-")))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        mode = rule_for(self.path)
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "fail503":
            self.send_error(503)
            return
        rel = self.path.split("?")[0].lstrip("/")
        path = os.path.realpath(os.path.join(ROOT, rel))
        if not path.startswith(os.path.realpath(ROOT)) or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_error(416)
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if self.command == "HEAD":
            return
        if mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "slow":
            for i in range(0, len(body), 16384):
                self.wfile.write(body[i:i + 16384])
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
tmp = PORTFILE + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, PORTFILE)
srv.serve_forever()
