"""The SDK's errors: what the server answered (``kind``, ``code``, ``status``), or why it could not
be reached (``status`` 0).

Branch on ``code`` (stable) or on the class, never on the message.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type


class AgentboxError(Exception):
    """A failure reported by ``agentbox serve`` (its ``{"error": {kind, code, message}}`` body and
    the HTTP status), or by the SDK itself (``status`` 0: the server could not be reached, or it
    broke the protocol)."""

    def __init__(self, message: str, *, kind: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        #: The kind of failure: ``usage``, ``not_found``, ``conflict``, ``state``, ``timeout``, ...
        self.kind = kind
        #: A stable code naming the failure, e.g. ``session_unknown``, ``unauthorized``.
        self.code = code
        #: The HTTP status (0 when there was no answer).
        self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, kind={self.kind!r}, code={self.code!r}, "
            f"status={self.status})"
        )


class UsageError(AgentboxError):
    """The request was wrong (HTTP 400, 413): a bad argument, a bad spec."""


class UnauthorizedError(AgentboxError):
    """No token, or a wrong one (HTTP 401)."""


class NotFoundError(AgentboxError):
    """No such sandbox, path, snapshot or image (HTTP 404)."""


class ConflictError(AgentboxError):
    """Not in a state to do it (HTTP 409): not running, still running, a limit reached."""


class CommandNotFoundError(AgentboxError):
    """The command was not found in the guest or could not start (HTTP 422)."""


class DeadlineError(AgentboxError):
    """Something took too long (kind ``timeout``, HTTP 504)."""


class UnavailableError(AgentboxError):
    """The server could not be reached (status 0, code ``connection_failed``), or something it
    needs is unavailable (HTTP 503)."""


class CommandError(AgentboxError):
    """A command run with ``check=True`` exited with a non-zero status (or by a signal)."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message, kind="failed", code="command_failed", status=0)
        #: The :class:`agentbox.ExecResult` of the command.
        self.result = result


_BY_KIND: Dict[str, Type[AgentboxError]] = {
    "usage": UsageError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "state": ConflictError,
    "command_not_found": CommandNotFoundError,
    "timeout": DeadlineError,
    "unavailable": UnavailableError,
}


def error_from_body(status: int, body: Any, fallback: str) -> AgentboxError:
    """The error an error body (or a stream's ``error`` event) describes, as the class its kind
    (or a 401) maps to. A body that is not one still gives an error with the status."""
    error: Optional[Any] = body.get("error") if isinstance(body, dict) else None
    if (
        isinstance(error, dict)
        and isinstance(error.get("kind"), str)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    ):
        kind, code, message = error["kind"], error["code"], error["message"]
    else:
        kind = "internal" if status >= 500 else "usage"
        code, message = f"http_{status}", fallback
    cls = UnauthorizedError if status == 401 else _BY_KIND.get(kind, AgentboxError)
    return cls(message, kind=kind, code=code, status=status)


def protocol_error(message: str) -> AgentboxError:
    """The SDK's own error for an answer that breaks the protocol."""
    return AgentboxError(message, kind="internal", code="protocol_error", status=0)
