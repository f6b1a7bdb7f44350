"""Shared by the interop tests: start `campuspay sandbox` (the debug binary) on a free port with a
fresh data directory, read `campuspay sandbox-credentials`, and receive notifications on a small
local HTTP server. No SDK code here: each test talks to the sandbox with its own client."""

import http.server
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("CAMPUSPAY_BIN", os.path.join(ROOT, "target", "debug", "campuspay"))


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """`campuspay sandbox` on 127.0.0.1:<free port>; stop() ends it (the test's own child)."""

    def __init__(self):
        if not os.access(BIN, os.X_OK):
            fail(f"{BIN} is missing: build it first (cargo build -p campuspay-server)")
        self.dir = tempfile.mkdtemp(prefix="campuspay-interop-")
        out = subprocess.run([BIN, "sandbox-credentials", "--data-dir", self.dir], capture_output=True, text=True, check=True)
        self.credentials = json.loads(out.stdout)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        # Time compressed a hundredfold: notification retries come within seconds.
        self.proc = subprocess.Popen(
            [BIN, "sandbox", "--listen", f"127.0.0.1:{port}", "--data-dir", self.dir, "--time-scale", "0.01"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    fail(f"campuspay sandbox exited: {self.proc.stderr.read().decode()}")
                time.sleep(0.1)
        fail("campuspay sandbox did not start listening")

    def file(self, provider, key):
        """The text of a key or certificate file named in the credentials."""
        with open(self.credentials[provider][key], encoding="utf-8") as f:
            return f.read()

    def behaviour(self, provider, patch):
        req = urllib.request.Request(
            f"{self.base}/sandbox/{provider}/behaviour",
            data=json.dumps(patch).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def pay(self, provider, order_no):
        """The cashier's 支付 button (the payer's side, not the merchant's)."""
        req = urllib.request.Request(f"{self.base}/sandbox/{provider}/orders/{order_no}/pay", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Inbox:
    """A local HTTP server taking notifications: every POST body goes to a queue and is
    answered with `reply` (status, body)."""

    def __init__(self, reply):
        received = self.received = queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, text = reply
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=15):
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            fail("no notification arrived")

    def stop(self):
        self.server.shutdown()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get_no_redirect(url):
    """(status, Location) of a GET, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.headers.get("Location")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location")
