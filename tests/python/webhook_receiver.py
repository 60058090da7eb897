"""A case manager's webhook for the delivery test: it verifies every
signature, processes each idempotency key once, and misbehaves at seeded
rates (answers 500, answers after the sender's timeout, or closes the
connection without answering), as a real receiver behind a flaky network
does.

Usage: python webhook_receiver.py PORT_FILE SECRET_FILE LOG_FILE SEED

Writes the port it listens on (127.0.0.1 only) to PORT_FILE. Appends one
JSON line per request to LOG_FILE: {"key", "event", "outcome"} where
outcome is "processed" (first 2xx for the key), "duplicate" (the key was
processed before: answered 200, not processed again), "bad_signature",
"error_500", "slow" (processed, answered late) or "dropped".
"""

import hashlib
import hmac
import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, SECRET_FILE, LOG_FILE, SEED = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
SECRET = open(SECRET_FILE, "rb").read().strip()
RNG = random.Random(SEED)
LOCK = threading.Lock()
PROCESSED = set()


def log(entry):
    with LOCK:
        with open(LOG_FILE, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key")
        event = self.headers.get("Seglake-Event")
        stamp = self.headers.get("Seglake-Timestamp", "")
        expected = "v1=" + hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("Seglake-Signature", "")):
            log({"key": key, "event": event, "outcome": "bad_signature"})
            self.send_response(401)
            self.end_headers()
            return
        if json.loads(body)["id"] != key:
            log({"key": key, "event": event, "outcome": "bad_signature"})
            self.send_response(400)
            self.end_headers()
            return
        with LOCK:
            roll = RNG.random()
        if roll < 0.15:
            log({"key": key, "event": event, "outcome": "error_500"})
            self.send_response(500)
            self.end_headers()
            return
        if roll < 0.25:
            log({"key": key, "event": event, "outcome": "dropped"})
            self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
            return
        with LOCK:
            first = key not in PROCESSED
            PROCESSED.add(key)
        outcome = "processed" if first else "duplicate"
        if roll < 0.35:
            # Processed, but answered after the sender gave up: its retry
            # must be recognised by the key.
            log({"key": key, "event": event, "outcome": outcome, "slow": True})
            time.sleep(1.0)
        else:
            log({"key": key, "event": event, "outcome": outcome})
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
