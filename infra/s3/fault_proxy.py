"""A fault-injecting HTTP proxy for seglake's tests, in front of an
S3-compatible server.

Each request, independently and at the rates given, gets one of:
  - 503: answered `503 SlowDown` without reaching the server;
  - 500 after applying: forwarded (the server applies it), then answered
    `500 InternalError`: the client cannot know the write landed;
  - slow: held for --slow-ms before it is forwarded;
  - drop: the connection is closed without an answer, half of the time
    before forwarding and half after (a lost reply);
and otherwise is forwarded untouched. Counts of each fault are written to
--stats-file (JSON) after every request, so a test can check that faults
really happened.

Usage: fault_proxy.py --upstream 127.0.0.1:PORT --port-file FILE
           [--seed N] [--rate-503 R] [--rate-500-after R] [--rate-slow R]
           [--slow-ms MS] [--rate-drop R] [--stats-file FILE]
Listens on 127.0.0.1 only; stops on SIGTERM.
"""

import argparse
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import serve_until_terminated

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--stats-file")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate-503", type=float, default=0.0)
    p.add_argument("--rate-500-after", type=float, default=0.0)
    p.add_argument("--rate-slow", type=float, default=0.0)
    p.add_argument("--slow-ms", type=int, default=300)
    p.add_argument("--rate-drop", type=float, default=0.0)
    args = p.parse_args()

    host, port = args.upstream.rsplit(":", 1)
    rng = random.Random(args.seed)
    lock = threading.Lock()
    stats = {"requests": 0, "503": 0, "500_after": 0, "slow": 0, "drop_before": 0, "drop_after": 0}

    def pick():
        with lock:
            stats["requests"] += 1
            x = rng.random()
            drop_half = rng.random() < 0.5
        for name, rate in (
            ("503", args.rate_503),
            ("500_after", args.rate_500_after),
            ("slow", args.rate_slow),
            ("drop", args.rate_drop),
        ):
            if x < rate:
                if name == "drop":
                    return "drop_before" if drop_half else "drop_after"
                return name
            x -= rate
        return None

    def count(fault):
        with lock:
            stats[fault] += 1
            if args.stats_file:
                tmp = args.stats_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(stats, f)
                os.replace(tmp, args.stats_file)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def drop(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def answer(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def error(self, status, code):
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected by fault_proxy</Message></Error>"
            ).encode()
            self.answer(status, [("Content-Type", "application/xml")], body)

        def handle_any(self):
            body = self.read_body()
            fault = pick()
            if fault == "503":
                count(fault)
                return self.error(503, "SlowDown")
            if fault == "drop_before":
                count(fault)
                return self.drop()
            if fault == "slow":
                count(fault)
                time.sleep(args.slow_ms / 1000)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status, resp_headers = resp.status, resp.getheaders()
            finally:
                conn.close()
            if fault == "500_after":
                count(fault)
                return self.error(500, "InternalError")
            if fault == "drop_after":
                count(fault)
                return self.drop()
            if self.command == "HEAD":
                self.send_response(status)
                for k, v in resp_headers:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.end_headers()
                return
            self.answer(status, resp_headers, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serve_until_terminated(server, server.server_address[1], args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
