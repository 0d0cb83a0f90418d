"""A second smartcart-ingest with environment overrides, for tests that need
other settings than the session's (a dead Redis, a 1 s idle timeout) or that
stop it themselves. Its log is $STATE/logs/<name>.log; leaving the `with`
block stops it and asserts that it exited 0 (as conftest does)."""
import contextlib
import os
import socket
import time

import requests

from conftest import BUILD, STATE, _start, _stop


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A local port nothing listens on (bound and released at once)."""
    return free_port()


class Ingest:
    def __init__(self, name, proc, port):
        self.name, self.proc, self.port = name, proc, port
        self.base = "http://127.0.0.1:%d" % port
        self.log = os.path.join(STATE, "logs", name + ".log")

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@contextlib.contextmanager
def extra_ingest(name, **env):
    port = free_port()
    overrides = {k: str(v) for k, v in env.items()}
    overrides["HTTP_PORT"] = str(port)
    proc = _start(name, [os.path.join(BUILD, "smartcart-ingest")], overrides)
    ingest = Ingest(name, proc, port)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if requests.get(ingest.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, "%s exited at start; see %s" % (name, ingest.log)
            assert time.time() < deadline, "%s did not start; see %s" % (name, ingest.log)
            time.sleep(0.1)
        yield ingest
    finally:
        _stop(proc, name)
