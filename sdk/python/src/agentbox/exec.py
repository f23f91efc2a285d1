"""A command's events as the server streams them (NDJSON: ``started``, ``stdout``/``stderr`` with
base64 data, then ``exit`` or ``error``), parsed and checked, and the result they add up to."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional

from .errors import CommandError, error_from_body, protocol_error

#: Called with each chunk of output as it arrives.
OutputCallback = Callable[[bytes], None]


@dataclass(frozen=True)
class ExecEvent:
    """One event of a running command.

    - ``started``: ``pid``
    - ``stdout`` / ``stderr``: ``data`` (bytes)
    - ``exit``: ``exit_code`` (None when a signal ended it), ``signal``, ``timed_out``
    """

    type: str
    pid: Optional[int] = None
    data: bytes = b""
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    timed_out: bool = False


def parse_exec_line(line: bytes) -> ExecEvent:
    """One NDJSON line of ``POST .../exec`` as an event; an ``error`` event raises the error it
    carries, and anything malformed raises a protocol error. Unknown event types are returned as
    they are (``type`` only), for a newer server."""
    try:
        event = json.loads(line)
    except ValueError:
        raise protocol_error("The server sent an exec event that is not JSON")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise protocol_error("The server sent an exec event without a type")
    kind = event["type"]
    if kind == "started":
        pid = event.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise protocol_error("The server sent a started event without a pid")
        return ExecEvent("started", pid=pid)
    if kind in ("stdout", "stderr"):
        data = event.get("data")
        if not isinstance(data, str):
            raise protocol_error(f"The server sent a {kind} event without data")
        try:
            return ExecEvent(kind, data=base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise protocol_error(f"The server sent a {kind} event whose data is not base64")
    if kind == "exit":
        code, signal, timed_out = event.get("code"), event.get("signal"), event.get("timedOut")
        if (
            not (code is None or (isinstance(code, int) and not isinstance(code, bool)))
            or not (signal is None or isinstance(signal, str))
            or not isinstance(timed_out, bool)
        ):
            raise protocol_error("The server sent a malformed exit event")
        return ExecEvent("exit", exit_code=code, signal=signal, timed_out=timed_out)
    if kind == "error":
        raise error_from_body(0, event, "The command failed (the server sent a malformed error)")
    return ExecEvent(kind)


@dataclass(frozen=True)
class ExecResult:
    """How a command ended, and its output (unless it was not captured)."""

    argv: List[str]
    #: The exit status; None when a signal ended it.
    exit_code: Optional[int]
    #: The signal that ended it (``SIGKILL``, ...), if one did.
    signal: Optional[str]
    #: Whether the exec's own timeout ended it.
    timed_out: bool
    stdout: bytes
    stderr: bytes
    pid: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    def check(self) -> "ExecResult":
        """This result, or :class:`CommandError` when the command did not exit with 0."""
        if self.ok:
            return self
        how = f"was killed by {self.signal}" if self.exit_code is None else f"exited with {self.exit_code}"
        if self.timed_out:
            how += " (timed out)"
        tail = self.stderr_text.strip().splitlines()[-1:] if self.stderr else []
        raise CommandError(
            f"Command {self.argv[0]!r} {how}" + (f": {tail[0]}" if tail else ""), self
        )


def collect(
    argv: List[str],
    events: Iterator[ExecEvent],
    on_stdout: Optional[OutputCallback] = None,
    on_stderr: Optional[OutputCallback] = None,
    capture: bool = True,
) -> ExecResult:
    """Run ``events`` to the end, calling back with output and adding it up."""
    out: List[bytes] = []
    err: List[bytes] = []
    pid: Optional[int] = None
    for event in events:
        if event.type == "started":
            pid = event.pid
        elif event.type == "stdout":
            if on_stdout is not None:
                on_stdout(event.data)
            if capture:
                out.append(event.data)
        elif event.type == "stderr":
            if on_stderr is not None:
                on_stderr(event.data)
            if capture:
                err.append(event.data)
        elif event.type == "exit":
            return ExecResult(
                argv=list(argv),
                exit_code=event.exit_code,
                signal=event.signal,
                timed_out=event.timed_out,
                stdout=b"".join(out),
                stderr=b"".join(err),
                pid=pid,
            )
    raise protocol_error("The exec stream ended before the command's exit")


def encode_stdin(stdin: Any) -> Optional[str]:
    """A command's stdin (bytes or text) as the base64 the server takes."""
    if stdin is None:
        return None
    if isinstance(stdin, str):
        stdin = stdin.encode()
    if not isinstance(stdin, (bytes, bytearray, memoryview)):
        raise TypeError("stdin: pass bytes or str")
    return base64.b64encode(bytes(stdin)).decode("ascii")


class ExecStream:
    """A running command's events, as an iterator; leaving the ``with`` block (or closing it)
    before the end drops the connection, and the server kills the command.

    >>> with sandbox.exec_stream(["make"]) as run:          # doctest: +SKIP
    ...     for event in run:
    ...         if event.type == "stdout":
    ...             print(event.data.decode(), end="")
    ...     print(run.exit_code)
    """

    def __init__(self, lines: Iterator[bytes], close: Callable[[], None]) -> None:
        self._lines = lines
        self._close = close
        #: The ``exit`` event, once it came.
        self.exit: Optional[ExecEvent] = None
        #: The command's pid in the guest, once it started.
        self.pid: Optional[int] = None

    @property
    def exit_code(self) -> Optional[int]:
        return None if self.exit is None else self.exit.exit_code

    def __iter__(self) -> Iterator[ExecEvent]:
        return self

    def __next__(self) -> ExecEvent:
        if self.exit is not None:
            raise StopIteration
        for line in self._lines:
            if not line:
                continue
            event = parse_exec_line(line)
            if event.type == "started":
                self.pid = event.pid
            elif event.type == "exit":
                self.exit = event
                self.close()
            return event
        self.close()
        raise protocol_error("The exec stream ended before the command's exit")

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
