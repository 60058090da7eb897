"""An S3-compatible server for seglake's tests: moto in server mode, with
every request serialised.

Delta commits on S3 are safe only when `PUT` with `If-None-Match: *` is
atomic: of two writers creating the same log entry, exactly one may win.
moto checks the condition and stores the object in two steps, so under
concurrent requests both writers can succeed. Holding one lock around each
whole request (body read, condition check, store, response) makes every
request atomic, as S3's are.

Usage: serve.py --port-file FILE [--port 0]
Listens on 127.0.0.1 only; writes the port it got to FILE once it accepts
connections; stops on SIGTERM.
"""

import argparse
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from loopback import serve_until_terminated


class Serialised:
    """WSGI middleware: one request at a time, response body included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The body is materialised under the lock: a streamed response
            # would let the next request start while this one still runs.
            chunks = list(self.app(environ, start_response))
        return chunks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()

    app = Serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    serve_until_terminated(server, server.socket.getsockname()[1], args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
