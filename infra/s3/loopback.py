"""What the test servers in this folder share: announce the loopback port
they got, and serve until SIGTERM."""

import os
import signal
import threading


def serve_until_terminated(server, port, port_file):
    """Writes `port` to `port_file` atomically (a reader never sees half a
    number), then serves until SIGTERM."""
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
