"""An interactive command on a terminal: ``GET /v1/sandboxes/{id}/pty`` as a WebSocket
(subprotocol ``agentbox.pty.v1``). Binary messages carry the terminal's bytes both ways; text
messages carry the start, resizes and signals from the client, and ``started``, ``exit`` or
``error`` from the server.

Synchronous, with no thread of its own: the connection is read only inside :meth:`Pty.read`,
:meth:`Pty.expect` and :meth:`Pty.wait`, which also answer the server's pings. The server drops a
terminal whose client has not answered for about a minute, so keep reading while it runs.
"""

from __future__ import annotations

import json
import time
from typing import List, Optional, Union

from .errors import error_from_body, protocol_error
from .exec import ExecResult
from .websocket import BINARY, CLOSE, TEXT, WebSocket

#: The terminal WebSocket's subprotocol.
PTY_SUBPROTOCOL = "agentbox.pty.v1"

#: The signals :meth:`Pty.signal` can send.
PTY_SIGNALS = frozenset(["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"])


class Pty:
    """A command running on a terminal in a sandbox (:meth:`agentbox.Sandbox.pty`).

    >>> with sb.pty(["/bin/sh"], rows=24, cols=80) as term:         # doctest: +SKIP
    ...     term.write("stty size; exit 3\\n")
    ...     term.expect("24 80")
    ...     print(term.wait().exit_code)                              # 3
    """

    def __init__(self, ws: WebSocket, argv: List[str]) -> None:
        self._ws = ws
        self._argv = argv
        self._pending = bytearray()
        #: The command's pid in the guest, once it started.
        self.pid: Optional[int] = None
        #: How it ended, once it did (``stdout`` empty: see :meth:`wait`).
        self.result: Optional[ExecResult] = None
        self._ended = False

    def _await_start(self, deadline: Optional[float]) -> None:
        """Read until the command started (the server takes no input before), keeping any
        output that came first."""
        while self.pid is None:
            data = self._next(deadline)
            if not data:
                raise protocol_error("The terminal's command ended before it started")
            self._pending += data

    # -- to the terminal --------------------------------------------------------------------

    def write(self, data: Union[bytes, str]) -> None:
        """Type ``data`` (text is sent as UTF-8)."""
        self._ws.send(BINARY, data.encode() if isinstance(data, str) else bytes(data))

    def resize(self, rows: int, cols: int) -> None:
        self._ws.send_text({"type": "resize", "rows": rows, "cols": cols})

    def signal(self, signal: str) -> None:
        """Send ``signal`` (``SIGINT``, ``SIGTERM``, ``SIGKILL``, ``SIGHUP``, ...) to the command."""
        if signal not in PTY_SIGNALS:
            raise ValueError(f"signal: one of {', '.join(sorted(PTY_SIGNALS))}, not {signal!r}")
        self._ws.send_text({"type": "signal", "signal": signal})

    # -- from the terminal ------------------------------------------------------------------

    def read(self, timeout: Optional[float] = None) -> bytes:
        """The terminal's next bytes; ``b""`` once the command ended. Waiting longer than
        ``timeout`` seconds raises :class:`agentbox.DeadlineError` (nothing is lost)."""
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            return data
        return self._next(None if timeout is None else time.monotonic() + timeout)

    def expect(self, pattern: Union[bytes, str], timeout: Optional[float] = None) -> bytes:
        """The terminal's bytes up to and including the first ``pattern``; what came after it is
        kept for the next read. The command ending first, or ``timeout`` seconds passing, raises
        (``DeadlineError`` for the timeout)."""
        wanted = pattern.encode() if isinstance(pattern, str) else bytes(pattern)
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = bytearray(self._pending)
        self._pending.clear()
        while wanted not in seen:
            try:
                data = self._next(deadline)
            except BaseException:
                self._pending[:0] = seen
                raise
            if not data:
                self._pending[:0] = seen
                raise protocol_error(
                    f"The terminal's command ended before printing {wanted[:60]!r}"
                )
            seen += data
        end = seen.index(wanted) + len(wanted)
        self._pending[:0] = seen[end:]
        return bytes(seen[:end])

    def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Read to the end; the result's ``stdout`` is what the terminal printed meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        output = bytearray(self._pending)
        self._pending.clear()
        while True:
            data = self._next(deadline)
            if not data:
                break
            output += data
        assert self.result is not None
        return ExecResult(
            argv=self.result.argv,
            exit_code=self.result.exit_code,
            signal=self.result.signal,
            timed_out=self.result.timed_out,
            stdout=bytes(output),
            stderr=b"",
            pid=self.pid,
        )

    def _next(self, deadline: Optional[float]) -> bytes:
        while not self._ended:
            opcode, payload = self._ws.receive(deadline)
            if opcode == BINARY:
                return payload
            if opcode == CLOSE:
                self._ended = True
                self._ws.close()
                if self.result is None:
                    raise protocol_error("The terminal connection closed before the command's exit")
                break
            if opcode == TEXT:
                self._control(payload)
        return b""

    def _control(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            raise protocol_error("The terminal sent a text message that is not JSON")
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "started" and isinstance(message.get("pid"), int):
            self.pid = message["pid"]
        elif kind == "exit":
            code = message.get("code")
            signal = message.get("signal")
            self.result = ExecResult(
                argv=list(self._argv),
                exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                signal=signal if isinstance(signal, str) else None,
                timed_out=message.get("timedOut") is True,
                stdout=b"",
                stderr=b"",
                pid=self.pid,
            )
        elif kind == "error":
            self._ended = True
            self._ws.close()
            raise error_from_body(0, message, "The terminal's command failed")

    def close(self) -> None:
        """Hang up: the server sends the command SIGHUP."""
        self._ended = True
        self._ws.close()

    def __enter__(self) -> "Pty":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
