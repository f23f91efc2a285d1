"""What the server answers, as typed values parsed from its JSON (unknown keys are ignored, as
the protocol's compatibility rules ask; a missing or mistyped required one is a protocol error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar

from .errors import protocol_error

T = TypeVar("T")


def _get(data: Any, key: str, kind: Type[T], what: str, optional: bool = False) -> T:
    if not isinstance(data, Mapping):
        raise protocol_error(f"The server sent a {what} that is not an object")
    value = data.get(key)
    if value is None and optional:
        return value  # type: ignore[return-value]
    # bool is an int in Python: do not take one for a number.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise protocol_error(f"The server sent a {what} without a valid {key!r}")
    return value


_NUMBER = (int, float)


@dataclass(frozen=True)
class Secret:
    """A secret bound to a host (``Sandbox.create(secrets=[...])``): the proxy adds ``value`` to
    the sandbox's HTTPS requests to ``host`` (as ``header``, default ``Authorization``, after
    ``scheme``, e.g. ``Bearer``); the guest sees only a placeholder, in the ``guest_env``
    variables. The server keeps it in memory only."""

    host: str
    value: str = field(repr=False)
    port: Optional[int] = None
    header: Optional[str] = None
    scheme: Optional[str] = None
    guest_env: Optional[List[str]] = None

    def to_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {
            "host": self.host,
            "value": self.value,
            "port": self.port,
            "header": self.header,
            "scheme": self.scheme,
            "guestEnv": list(self.guest_env) if self.guest_env is not None else None,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox as the server describes it (``GET /v1/sandboxes/{id}``)."""

    id: str
    name: Optional[str]
    #: ``starting``, ``running``, ``stopped``, ...
    state: str
    labels: Dict[str, str]
    #: Who made it: ``local:<user>`` over the socket, the token's name over TCP.
    created_by: Optional[str]
    project: Optional[str]
    guest_address: Optional[str]
    #: ``pending``, ``applied`` or ``none``.
    changes: str
    #: Milliseconds since the epoch.
    started_at: float
    ended_at: Optional[float]
    #: When its deadline stops it (milliseconds since the epoch), if it has one.
    expires_at: Optional[float]

    @classmethod
    def parse(cls, data: Any) -> "SandboxInfo":
        what = "sandbox"
        labels = _get(data, "labels", dict, what)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise protocol_error("The server sent a sandbox with labels that are not strings")
        return cls(
            id=_get(data, "id", str, what),
            name=_get(data, "name", str, what, optional=True),
            state=_get(data, "state", str, what),
            labels=dict(labels),
            created_by=_get(data, "createdBy", str, what, optional=True),
            project=_get(data, "project", str, what, optional=True),
            guest_address=_get(data, "guestAddress", str, what, optional=True),
            changes=_get(data, "changes", str, what),
            started_at=_get(data, "startedAt", _NUMBER, what),  # type: ignore[arg-type]
            ended_at=_get(data, "endedAt", _NUMBER, what, optional=True),  # type: ignore[arg-type]
            expires_at=_get(data, "expiresAt", _NUMBER, what, optional=True),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Entry:
    """A guest path (``files.list``, ``files.stat``)."""

    name: str
    path: str
    #: ``file``, ``dir``, ``symlink`` or ``other``.
    type: str
    size: int
    mode: int
    mtime_ms: float
    #: A symlink's target.
    target: Optional[str] = None

    @classmethod
    def parse(cls, data: Any) -> "Entry":
        what = "file entry"
        return cls(
            name=_get(data, "name", str, what),
            path=_get(data, "path", str, what),
            type=_get(data, "type", str, what),
            size=int(_get(data, "size", _NUMBER, what)),  # type: ignore[arg-type]
            mode=int(_get(data, "mode", _NUMBER, what)),  # type: ignore[arg-type]
            mtime_ms=_get(data, "mtimeMs", _NUMBER, what),  # type: ignore[arg-type]
            target=_get(data, "target", str, what, optional=True),
        )


@dataclass(frozen=True)
class Change:
    """One changed path of the workspace (project-relative)."""

    path: str
    #: ``added``, ``modified``, ``deleted``, ...
    status: str
    applied: bool
    binary: bool
    #: The host's copy changed since the sandbox started.
    host_changed: bool
    #: Everything the server said about it (``new``, ``old``, ...).
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> "Change":
        what = "change"
        return cls(
            path=_get(data, "path", str, what),
            status=_get(data, "status", str, what),
            applied=_get(data, "applied", bool, what),
            binary=_get(data, "binary", bool, what),
            host_changed=_get(data, "hostChanged", bool, what),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Changes:
    """A sandbox's workspace changes (``GET .../changes``)."""

    project: str
    entries: List[Change]
    hidden_ignored: int
    hidden_by_path: int
    #: How many were applied already.
    applied: int

    @property
    def paths(self) -> List[str]:
        return [c.path for c in self.entries]

    @classmethod
    def parse(cls, data: Any) -> "Changes":
        what = "change list"
        return cls(
            project=_get(data, "project", str, what),
            entries=[Change.parse(e) for e in _get(data, "entries", list, what)],
            hidden_ignored=int(_get(data, "hiddenIgnored", _NUMBER, what)),  # type: ignore[arg-type]
            hidden_by_path=int(_get(data, "hiddenByPath", _NUMBER, what)),  # type: ignore[arg-type]
            applied=int(_get(data, "applied", _NUMBER, what)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did (``POST .../changes/apply``)."""

    status: str
    resumed: bool
    changeset: str
    #: ``applied``, ``unchanged``, ``skipped``, ``conflict``, ``refused``: how many paths each.
    counts: Dict[str, int]
    #: One ``{"path", "result", ...}`` per path.
    outcomes: List[Dict[str, Any]]

    @classmethod
    def parse(cls, data: Any) -> "ApplyResult":
        what = "apply result"
        counts = _get(data, "counts", dict, what)
        outcomes = _get(data, "outcomes", list, what)
        if not all(isinstance(o, dict) and isinstance(o.get("path"), str) for o in outcomes):
            raise protocol_error("The server sent an apply result with a malformed outcome")
        return cls(
            status=_get(data, "status", str, what),
            resumed=_get(data, "resumed", bool, what),
            changeset=_get(data, "changeset", str, what),
            counts={str(k): int(v) for k, v in counts.items()},
            outcomes=list(outcomes),
        )
