import json
import socket
import struct
import threading
import unittest

from agentbox import DeadlineError, NotFoundError
from agentbox.errors import AgentboxError
from agentbox.pty import Pty
from agentbox.websocket import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    accept_key,
    encode_frame,
    handshake,
    parse_frame,
)


def server_frame(opcode, payload, final=True):
    """A frame as a server sends it (unmasked)."""
    length = len(payload)
    head = bytes([(0x80 if final else 0) | opcode])
    if length < 126:
        head += bytes([length])
    elif length < 1 << 16:
        head += bytes([126]) + struct.pack("!H", length)
    else:
        head += bytes([127]) + struct.pack("!Q", length)
    return head + payload


class FramingTest(unittest.TestCase):
    def test_accept_key_from_the_rfc(self):
        self.assertEqual(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_client_frames_are_masked_and_parse_back(self):
        for size in (0, 1, 125, 126, 65535, 65536, 200_000):
            payload = bytes(i % 251 for i in range(size))
            frame = encode_frame(BINARY, payload, mask=b"\x01\x02\x03\x04")
            self.assertTrue(frame[1] & 0x80, "the mask bit")
            if size:
                self.assertNotEqual(frame[-size:], payload)
            buffer = bytearray(frame + b"next")
            self.assertEqual(parse_frame(buffer), (True, BINARY, payload))
            self.assertEqual(buffer, b"next")

    def test_an_incomplete_frame_stays_in_the_buffer(self):
        frame = server_frame(TEXT, b"x" * 300)
        for cut in (1, 3, 100, len(frame) - 1):
            buffer = bytearray(frame[:cut])
            self.assertIsNone(parse_frame(buffer))
            self.assertEqual(len(buffer), cut)

    def test_a_huge_frame_is_refused(self):
        buffer = bytearray(bytes([0x82, 127]) + struct.pack("!Q", 1 << 40))
        with self.assertRaises(AgentboxError) as caught:
            parse_frame(buffer)
        self.assertEqual(caught.exception.code, "protocol_error")


class StandIn:
    """The server end of a socket pair: answers the handshake as told, then sends frames."""

    def __init__(self, answer):
        self.client, self.server = socket.socketpair()
        self.request = b""
        self.received = bytearray()

        def run():
            while b"\r\n\r\n" not in self.request:
                self.request += self.server.recv(4096)
            key = [
                line.split(": ", 1)[1]
                for line in self.request.decode().split("\r\n")
                if line.lower().startswith("sec-websocket-key")
            ][0]
            self.server.sendall(answer(key))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def send(self, data):
        self.thread.join()
        self.server.sendall(data)

    def read_client_frames(self):
        self.server.settimeout(2)
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                self.received += data
        except socket.timeout:
            pass
        frames = []
        while True:
            frame = parse_frame(self.received)
            if frame is None:
                return frames
            frames.append(frame)


def switching(key, protocol="agentbox.pty.v1"):
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
    ).encode()


class HandshakeAndPtyTest(unittest.TestCase):
    def test_a_refusal_raises_the_servers_error(self):
        body = json.dumps({"error": {"kind": "not_found", "code": "session_unknown", "message": "m"}})
        stand_in = StandIn(
            lambda key: (
                f"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n{body}"
            ).encode()
        )
        with self.assertRaises(NotFoundError):
            handshake(stand_in.client, "localhost", "/v1/sandboxes/x/pty", {}, "agentbox.pty.v1")

    def test_a_wrong_accept_key_is_refused(self):
        stand_in = StandIn(lambda key: switching("not-" + key))
        with self.assertRaises(AgentboxError) as caught:
            handshake(stand_in.client, "localhost", "/p", {}, "agentbox.pty.v1")
        self.assertEqual(caught.exception.code, "protocol_error")

    def test_a_terminal_session(self):
        stand_in = StandIn(switching)
        ws = handshake(
            stand_in.client, "localhost", "/p", {"Authorization": "Bearer t"}, "agentbox.pty.v1"
        )
        self.assertIn(b"Authorization: Bearer t\r\n", stand_in.request)
        term = Pty(ws, ["/bin/sh"])
        # Output split over fragments, a ping in between, then the exit and the close.
        stand_in.send(
            server_frame(TEXT, b'{"type":"started","pid":9}')
            + server_frame(BINARY, b"hel", final=False)
            + server_frame(PING, b"p1")
            + server_frame(CONTINUATION, b"lo $ ")
            + server_frame(BINARY, b"world")
        )
        term._await_start(None)
        self.assertEqual(term.pid, 9)
        self.assertEqual(term.expect("$ ", timeout=5), b"hello $ ")
        with self.assertRaises(DeadlineError):
            term.expect("never", timeout=0.2)
        term.write("ls\n")
        term.resize(10, 20)
        stand_in.send(
            server_frame(BINARY, b"!")
            + server_frame(TEXT, b'{"type":"exit","code":3,"signal":null,"timedOut":false}')
            + server_frame(CLOSE, struct.pack("!H", 1000))
        )
        result = term.wait(timeout=5)
        self.assertEqual((result.exit_code, result.stdout), (3, b"world!"))
        self.assertEqual(term.read(), b"")
        term.close()
        frames = stand_in.read_client_frames()
        self.assertEqual(frames[0], (True, PONG, b"p1"))
        self.assertEqual(frames[1], (True, BINARY, b"ls\n"))
        self.assertEqual(json.loads(frames[2][2]), {"type": "resize", "rows": 10, "cols": 20})
        self.assertEqual(frames[3][1], CLOSE)

    def test_signal_names_are_checked(self):
        term = Pty.__new__(Pty)
        with self.assertRaises(ValueError):
            term.signal("SIGSTOP")


if __name__ == "__main__":
    unittest.main()
