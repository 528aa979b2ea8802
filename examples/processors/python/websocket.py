"""The server side of RFC 6455 that theory.run.v1 needs, on the standard library alone: the
handshake with a subprotocol, masked client frames, text and close frames, a maximum frame size."""

import base64
import hashlib
import select
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0

NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009


class ProtocolError(Exception):
    """The peer broke the WebSocket protocol: close with `code`."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(data, mask):
    """XORs the payload with the 4-byte mask, as one big integer (fast enough for 1 MiB)."""
    size = len(data)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WebSocket:
    """One accepted connection. Reads into its own buffer, so frames that arrived together are
    handled in order before anything else happens (a second RunOpen is seen as such)."""

    def __init__(self, sock, max_message):
        self.sock = sock
        self.max_message = max_message
        self.buffer = bytearray()
        self.fragments = None
        self.closed = False

    def fill(self, timeout):
        """Waits up to `timeout` s for bytes; False when the peer closed the connection."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return True
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _frame(self):
        """One complete frame from the buffer as (fin, opcode, payload), or None when incomplete."""
        if len(self.buffer) < 2:
            return None
        first, second = self.buffer[0], self.buffer[1]
        fin, opcode, length = first & 0x80, first & 0x0F, second & 0x7F
        if first & 0x70:
            raise ProtocolError(PROTOCOL_ERROR, "reserved bits set")
        if not second & 0x80:
            raise ProtocolError(PROTOCOL_ERROR, "client frames must be masked")
        offset = 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            (length,) = struct.unpack(">H", self.buffer[2:4])
            offset = 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            (length,) = struct.unpack(">Q", self.buffer[2:10])
            offset = 10
        if opcode >= 0x8 and (length > 125 or not fin):
            raise ProtocolError(PROTOCOL_ERROR, "bad control frame")
        pending = len(self.fragments[1]) if self.fragments else 0
        if length + pending > self.max_message:
            raise ProtocolError(TOO_BIG, "message too big")
        if len(self.buffer) < offset + 4 + length:
            return None
        mask = self.buffer[offset : offset + 4]
        start = offset + 4
        payload = unmask(bytes(self.buffer[start : start + length]), bytes(mask))
        del self.buffer[: start + length]
        return fin, opcode, payload

    def next_message(self):
        """The next whole message in the buffer: ("text", str), ("binary", bytes), ("close", code),
        or None when none is complete yet. Pings are answered here."""
        while True:
            frame = self._frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode == PING:
                self._send(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                return ("close", struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005)
            if opcode == CONTINUATION:
                if self.fragments is None:
                    raise ProtocolError(PROTOCOL_ERROR, "continuation without a start")
                self.fragments[1] += payload
            elif opcode in (TEXT, BINARY):
                if self.fragments is not None:
                    raise ProtocolError(PROTOCOL_ERROR, "a new message inside a fragmented one")
                self.fragments = [opcode, bytearray(payload)]
            else:
                raise ProtocolError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            if not fin:
                continue
            kind, data = self.fragments
            self.fragments = None
            if kind == BINARY:
                return ("binary", bytes(data))
            try:
                return ("text", data.decode("utf-8"))
            except UnicodeDecodeError:
                raise ProtocolError(INVALID_DATA, "text frame is not UTF-8") from None

    def _send(self, opcode, payload):
        length = len(payload)
        if length < 126:
            header = struct.pack(">BB", 0x80 | opcode, length)
        elif length < 1 << 16:
            header = struct.pack(">BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack(">BBQ", 0x80 | opcode, 127, length)
        self.sock.sendall(header + payload)

    def send_text(self, text):
        self._send(TEXT, text.encode("utf-8"))

    def close(self, code, reason=""):
        """Sends the close frame, then reads (and drops) what the peer still sends until it closes
        too or 2 s pass, so no unread bytes turn the close into a reset."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send(CLOSE, struct.pack(">H", code) + reason.encode("utf-8")[:123])
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
                if not readable or not self.sock.recv(65536):
                    break
        except OSError:
            pass
