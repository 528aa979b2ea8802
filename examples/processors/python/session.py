"""theory.run.v1 on one WebSocket: RunOpen first, Ack, exactly one RunResult, close 1000; anything
out of order is a protocol error, close 1002 (docs/protocols.md#theoryrunv1)."""

import json
import threading
import time

from contract import canonical, error_envelope, payload_problem, readable_run_id
from run import run_echo
from websocket import NORMAL, PROTOCOL_ERROR, ProtocolError

OPEN_TIMEOUT_S = 30
# How often the session looks whether its run finished while no frame arrives.
POLL_S = 0.01


class Run:
    """The tool working in a thread, so the session keeps reading frames (a Cancel) meanwhile."""

    def __init__(self, payload, config):
        self.canceled = threading.Event()
        self.envelope = None
        self.thread = threading.Thread(target=self._work, args=(payload, config), daemon=True)
        self.thread.start()

    def _work(self, payload, config):
        self.envelope = run_echo(payload, config, self.canceled)

    @property
    def done(self):
        return not self.thread.is_alive()


def frame(kind, content):
    return canonical({"kind": kind, "content": content})


def serve_run_socket(ws, config):
    run = None
    opened_at = time.monotonic()

    def protocol_error(reason):
        if run:
            run.canceled.set()
        config.log("warn", "ws.run.protocol_error", reason=reason)
        ws.close(PROTOCOL_ERROR, f"ERR_INPUTS: {reason}"[:123])

    while True:
        try:
            message = ws.next_message()
        except ProtocolError as error:
            if run:
                run.canceled.set()
            return ws.close(error.code, error.reason)
        if message is None:
            if run and run.done:
                ws.send_text(frame("RunResult", run.envelope))
                return ws.close(NORMAL)
            waited = time.monotonic() - opened_at
            if run is None and waited >= OPEN_TIMEOUT_S:
                return protocol_error("no RunOpen in time")
            if not ws.fill(POLL_S if run else OPEN_TIMEOUT_S - waited):
                if run:  # the client left: abort the run
                    run.canceled.set()
                return None
            continue
        kind, data = message
        if kind == "close":
            if run:
                run.canceled.set()
            return ws.close(NORMAL)
        if kind == "binary":
            return protocol_error("binary frames are not part of theory.run.v1")
        try:
            received = json.loads(data)
        except ValueError:
            return protocol_error("malformed JSON frame")
        if not isinstance(received, dict) or set(received) != {"kind", "content"}:
            return protocol_error("unknown or malformed frame")
        content = received["content"]
        if received["kind"] == "Cancel":
            if run is None or content != {}:
                return protocol_error("Cancel without a running run")
            config.log("info", "ws.run.cancel")
            run.canceled.set()
            continue
        if received["kind"] != "RunOpen":
            return protocol_error("unknown or malformed frame")
        if run is not None:
            return protocol_error("RunOpen must come first, and once")
        if not isinstance(content, dict) or set(content) != {"role", "payload"} or content["role"] != "client":
            return protocol_error("unknown or malformed frame")
        payload = content["payload"]
        problem = payload_problem(payload)
        run_id = readable_run_id(payload)
        if problem and run_id is None:
            return protocol_error("RunOpen without a valid run_id")
        ws.send_text(frame("Ack", {"run_id": run_id}))
        if problem:
            ws.send_text(frame("RunResult", error_envelope(run_id, "ERR_INPUTS", problem, config.identity())))
            return ws.close(NORMAL)
        run = Run(payload, config)
