"""A Theory processor serving echo/text@1, on Python's standard library alone.

    TOOL_REF=echo/text@1 IMAGE_DIGEST=sha256:… ENV_FINGERPRINT='cpu:0.25;memory:256Mi' \\
      ARTIFACTS_ROOT=/tmp/artifacts PORT=8001 python3 processor.py

It serves GET /healthz, the WebSocket /run (theory.run.v1) and the legacy POST /run and
POST /run-stream. `theory conformance --url http://127.0.0.1:8001 --tool echo/text@1` checks it.
"""

import hmac
import json
import os
import signal
import sys
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from contract import (
    DIGEST,
    FINGERPRINT,
    MAX_BYTES,
    TOOL_REF,
    api_error,
    canonical,
    error_envelope,
    payload_problem,
    readable_run_id,
)
from run import run_echo
from session import serve_run_socket
from websocket import WebSocket, accept_key

SUBPROTOCOL = "theory.run.v1"


def log(level, event, **fields):
    """NDJSON on stderr; stdout carries nothing."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sys.stderr.write(json.dumps({"ts": now, "level": level, "event": event, **fields}) + "\n")


class Config:
    def __init__(self, env):
        problems = []
        if env.get("TOOL_REF") != TOOL_REF:
            problems.append(f"TOOL_REF must be {TOOL_REF} (this processor carries no other tool)")
        if not DIGEST.fullmatch(env.get("IMAGE_DIGEST", "")):
            problems.append("IMAGE_DIGEST must be sha256:<64 lowercase hex>")
        if not FINGERPRINT.fullmatch(env.get("ENV_FINGERPRINT", "")):
            problems.append("ENV_FINGERPRINT must be key:value pairs joined by ;")
        self.artifacts_root = env.get("ARTIFACTS_ROOT", "/artifacts")
        if not self.artifacts_root.startswith("/"):
            problems.append("ARTIFACTS_ROOT must be an absolute path")
        if problems:
            raise ValueError("; ".join(problems))
        self.image_digest = env["IMAGE_DIGEST"]
        self.env_fingerprint = env["ENV_FINGERPRINT"]
        self.host = env.get("HOST", "0.0.0.0")
        self.port = int(env.get("PORT", "8000"))
        # Optional: when set, /run and /run-stream need `Authorization: Bearer <token>`.
        self.token = env.get("PROCESSOR_TOKEN") or None
        self.log = log

    def identity(self):
        return {"env_fingerprint": self.env_fingerprint, "image_digest": self.image_digest}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Unbuffered: after a WebSocket handshake no frame bytes may hide in a read buffer.
    rbufsize = 0
    config = None

    def log_message(self, format, *args):  # the standard access log is replaced by NDJSON events
        pass

    def send_json(self, status, body, close=False):
        data = canonical(body).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, code, message):
        self.send_json(status, api_error(code, message, self.config.identity()), close=True)

    def authorized(self):
        if self.config.token is None:
            return True
        given = self.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.config.token}".encode())

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/healthz":
            return self.send_json(200, {"ok": True})
        if path == "/run" and self.headers.get("upgrade", "").lower() == "websocket":
            return self.upgrade()
        self.refuse(404, "ERR_NOT_FOUND", f"no such route: GET {path}")

    def upgrade(self):
        offered = [p.strip() for p in self.headers.get("sec-websocket-protocol", "").split(",")]
        key = self.headers.get("sec-websocket-key")
        if SUBPROTOCOL not in offered or not key or self.headers.get("sec-websocket-version") != "13":
            return self.refuse(400, "ERR_INPUTS", f"the WebSocket needs the {SUBPROTOCOL} subprotocol")
        if not self.authorized():
            return self.refuse(401, "ERR_AUTH", "missing or invalid processor token")
        self.wfile.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
            ).encode()
        )
        self.close_connection = True
        serve_run_socket(WebSocket(self.connection, MAX_BYTES), self.config)

    def read_body(self, length):
        chunks, left = [], length
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def do_POST(self):
        path = self.path.split("?")[0]
        length = int(self.headers.get("content-length") or 0)
        if path not in ("/run", "/run-stream"):
            self.read_body(length)
            return self.refuse(404, "ERR_NOT_FOUND", f"no such route: POST {path}")
        if not self.authorized():
            self.read_body(length)
            return self.refuse(401, "ERR_AUTH", "missing or invalid processor token")
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        # Bodies are read (and dropped) even when refused: unread bytes would reset the connection.
        body = self.read_body(length)
        if content_type != "application/json":
            return self.refuse(415, "ERR_INPUTS", "content-type must be application/json")
        if length > MAX_BYTES:
            return self.refuse(413, "ERR_INPUTS", "payload over 1 MiB")
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            return self.refuse(400, "ERR_INPUTS", "malformed JSON body")
        problem = payload_problem(payload)
        run_id = readable_run_id(payload)
        if problem:
            if run_id is None:
                return self.refuse(422, "ERR_INPUTS", problem)
            return self.send_json(200, error_envelope(run_id, "ERR_INPUTS", problem, self.config.identity()))
        log("info", "http.run.start", execution_id=run_id, ref=TOOL_REF, stream=path == "/run-stream")
        envelope = run_echo(payload, self.config, _NEVER_CANCELED)
        log("info", "http.run.settle", execution_id=run_id, ref=TOOL_REF, status=envelope["status"])
        if path == "/run":
            failed = envelope["status"] == "error" and envelope["error"]["code"] == "ERR_INTERNAL"
            return self.send_json(500 if failed else 200, envelope)
        # echo/text@1 streams no progress: the stream is its one `done` event.
        event = f"event: done\nid: 0\ndata: {canonical(envelope)}\n\n".encode("utf-8")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that hung up mid-request is logged as one event, not a traceback."""
        log("warn", "http.connection.error", error=type(sys.exc_info()[1]).__name__)


class _NeverCanceled:
    """HTTP runs have no Cancel frame."""

    def is_set(self):
        return False


_NEVER_CANCELED = _NeverCanceled()


def main():
    try:
        config = Config(os.environ)
    except ValueError as error:
        log("error", "error.processor.start", message=str(error))
        return 1
    Handler.config = config
    server = Server((config.host, config.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("info", "processor.listen", ref=TOOL_REF, port=server.server_address[1])
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        log("info", "processor.stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
