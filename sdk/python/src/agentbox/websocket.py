"""A minimal WebSocket client (RFC 6455) on the standard library: the opening handshake over an
already connected socket, and frames — masked from the client, fragmented messages joined, pings
answered. Just what the terminal route needs; not a general-purpose client."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time
from typing import Dict, Optional, Tuple

from .errors import AgentboxError, DeadlineError, error_from_body, protocol_error

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

#: How long the server may take to answer the opening handshake.
HANDSHAKE_SECONDS = 60

#: The largest message accepted from the server (a terminal's output comes in far smaller ones).
MAX_MESSAGE = 16 * 1024 * 1024


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server answers ``key`` with."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def encode_frame(opcode: int, payload: bytes, mask: Optional[bytes] = None) -> bytes:
    """One final frame of ``payload``, masked (as a client must) with ``mask`` or a random key."""
    mask = os.urandom(4) if mask is None else mask
    length = len(payload)
    head = bytes([0x80 | opcode])
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    return head + mask + _apply_mask(payload, mask)


def _apply_mask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return b""
    # XOR as one big integer: fast enough without a C extension.
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def parse_frame(buffer: bytearray) -> Optional[Tuple[bool, int, bytes]]:
    """The first frame in ``buffer`` as (final, opcode, payload), removed from it; None while
    the frame is incomplete. A frame the server masked is unmasked."""
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    length = second & 0x7F
    offset = 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length = struct.unpack_from("!H", buffer, 2)[0]
        offset = 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length = struct.unpack_from("!Q", buffer, 2)[0]
        offset = 10
    if length > MAX_MESSAGE:
        raise protocol_error(f"The server sent a WebSocket frame of {length} bytes")
    mask = None
    if second & 0x80:
        if len(buffer) < offset + 4:
            return None
        mask = bytes(buffer[offset : offset + 4])
        offset += 4
    if len(buffer) < offset + length:
        return None
    payload = bytes(buffer[offset : offset + length])
    del buffer[: offset + length]
    if mask is not None:
        payload = _apply_mask(payload, mask)
    return bool(first & 0x80), first & 0x0F, payload


def _receive_into(sock: socket.socket, buffer: bytearray, deadline: Optional[float]) -> None:
    """Append what ``sock`` has next to ``buffer``, waiting until ``deadline`` at most."""
    if deadline is None:
        sock.settimeout(None)
    else:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineError(
                "Nothing came from the terminal in time", kind="timeout", code="read_timeout", status=0
            )
        sock.settimeout(remaining)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        raise DeadlineError(
            "Nothing came from the terminal in time", kind="timeout", code="read_timeout", status=0
        ) from None
    if not data:
        raise protocol_error("The WebSocket connection ended")
    buffer += data


class WebSocket:
    """A client WebSocket on a connected socket (after :func:`handshake`)."""

    def __init__(self, sock: socket.socket, buffer: bytearray, protocol: Optional[str]) -> None:
        self.sock = sock
        self._buffer = buffer
        #: The subprotocol the server chose.
        self.protocol = protocol
        self.closed = False

    def send(self, opcode: int, payload: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(encode_frame(opcode, payload))

    def send_text(self, value: object) -> None:
        self.send(TEXT, json.dumps(value).encode())

    def _frame(self, deadline: Optional[float]) -> Tuple[bool, int, bytes]:
        while True:
            frame = parse_frame(self._buffer)
            if frame is not None:
                return frame
            _receive_into(self.sock, self._buffer, deadline)

    def receive(self, deadline: Optional[float] = None) -> Tuple[int, bytes]:
        """The next message (TEXT or BINARY, fragments joined), answering pings on the way;
        (CLOSE, payload) when the server closes. Past ``deadline`` (``time.monotonic()``),
        :class:`DeadlineError`; what was read so far is kept for the next call."""
        message_opcode: Optional[int] = None
        parts = []
        size = 0
        while True:
            final, opcode, payload = self._frame(deadline)
            if opcode == PING:
                self.send(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                if not self.closed:
                    self.closed = True
                    try:
                        self.send(CLOSE, payload[:2])
                    except OSError:
                        pass
                return CLOSE, payload
            if opcode == CONTINUATION:
                if message_opcode is None:
                    raise protocol_error("The server sent a continuation frame out of a message")
            elif opcode in (TEXT, BINARY):
                if message_opcode is not None:
                    raise protocol_error("The server started a message inside another one")
                message_opcode = opcode
            else:
                raise protocol_error(f"The server sent a WebSocket frame of opcode {opcode}")
            size += len(payload)
            if size > MAX_MESSAGE:
                raise protocol_error("The server sent a WebSocket message over 16 MiB")
            parts.append(payload)
            if final:
                return message_opcode, b"".join(parts)

    def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.send(CLOSE, struct.pack("!H", code))
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass


def handshake(
    sock: socket.socket, host: str, path: str, headers: Dict[str, str], protocol: str
) -> WebSocket:
    """Open a WebSocket on ``sock`` for ``path``, offering subprotocol ``protocol``; a refusal
    raises the error its body describes."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Sec-WebSocket-Protocol: {protocol}",
    ] + [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buffer = bytearray()
    deadline = time.monotonic() + HANDSHAKE_SECONDS
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > 65536:
            raise protocol_error("The server's answer to the WebSocket request is too long")
        _receive_into(sock, buffer, deadline)
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    del buffer[: end + 4]
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise protocol_error("The server did not answer the WebSocket request with HTTP")
    status = int(parts[1])
    answer: Dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        answer[name.strip().lower()] = value.strip()
    if status != 101:
        length = min(int(answer.get("content-length") or 0), 1 << 20)
        try:
            while len(buffer) < length:
                _receive_into(sock, buffer, deadline)
        except AgentboxError:
            pass
        body = bytes(buffer[:length])
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        raise error_from_body(status, parsed, f"The server refused the WebSocket: HTTP {status}")
    if answer.get("sec-websocket-accept") != accept_key(key):
        raise protocol_error("The server's WebSocket answer does not match the request's key")
    chosen = answer.get("sec-websocket-protocol")
    if chosen is not None and chosen != protocol:
        raise AgentboxError(
            f"The server chose the WebSocket subprotocol {chosen!r}, not {protocol!r}",
            kind="internal",
            code="protocol_error",
            status=status,
        )
    return WebSocket(sock, buffer, chosen)
