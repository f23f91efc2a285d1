"""A sandbox of ``agentbox serve``: make one (or restore a snapshot), run commands in it, read and
write its files, review and apply its workspace changes, snapshot, stop and delete it.

>>> from agentbox import Sandbox                                    # doctest: +SKIP
>>> with Sandbox.create(share="/home/me/project", net="none") as sb:
...     print(sb.sh("ls {}", "/workspace").stdout_text)
...     sb.apply(paths=["README.md"])
"""

from __future__ import annotations

import string
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from .errors import NotFoundError, protocol_error
from .exec import ExecResult, ExecStream, OutputCallback, collect, encode_stdin
from .files import Files
from .models import ApplyResult, Changes, SandboxInfo, Secret
from .pty import PTY_SUBPROTOCOL, Pty
from .quoting import shell_command
from .transport import Client, path_segment
from .websocket import handshake

#: Label filters of :meth:`Sandbox.list`: ``{"team": "web"}`` (that value), ``{"ci": None}`` (has
#: the label), or ``["team=web", "ci"]``.
LabelFilter = Union[Mapping[str, Optional[str]], Iterable[str]]

#: The keyword arguments of :meth:`Sandbox.sh` that are options, not template fields.
SH_OPTIONS = frozenset(
    ["env", "cwd", "user", "stdin", "timeout_sec", "on_stdout", "on_stderr", "capture", "check"]
)


#: How long :meth:`Sandbox.pty` waits for the command to start on its terminal.
PTY_START_SECONDS = 120


class Sandbox:
    """One sandbox. Make it with :meth:`create`, find it with :meth:`connect` or :meth:`list`.
    Used as a context manager, it is deleted when the block ends."""

    def __init__(self, client: Client, info: SandboxInfo) -> None:
        self.client = client
        #: What the server said about it last (:meth:`refresh` asks again).
        self.info = info
        #: Its guest files.
        self.files = Files(self)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> Optional[str]:
        return self.info.name

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, name={self.name!r}, state={self.info.state!r})"

    def _path(self, suffix: str = "") -> str:
        return f"/v1/sandboxes/{path_segment(self.id)}{suffix}"

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        image: Optional[str] = None,
        *,
        name: Optional[str] = None,
        share: Optional[str] = None,
        project_dir: Optional[str] = None,
        net: Optional[str] = None,
        allow: Optional[List[str]] = None,
        deny: Optional[List[str]] = None,
        tls_inspect: Optional[bool] = None,
        env: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        workdir: Optional[str] = None,
        cpus: Optional[int] = None,
        memory_mb: Optional[int] = None,
        timeout_sec: Optional[int] = None,
        labels: Optional[Mapping[str, str]] = None,
        approval_timeout_sec: Optional[int] = None,
        secrets: Optional[List[Union[Secret, Mapping[str, Any]]]] = None,
        snapshot: Optional[str] = None,
        client: Optional[Client] = None,
    ) -> "Sandbox":
        """Boot a sandbox (or restore ``snapshot`` as a new one); returns once it runs.

        ``share`` is a host directory (absolute) shown at ``/workspace``; ``net`` is ``none``,
        ``allowlist``, ``open`` or ``learn`` with ``allow``/``deny`` host patterns;
        ``timeout_sec`` stops it that long after it started; ``approval_timeout_sec`` is how
        long a connection to a graylisted host waits for an answer (:meth:`Client.approvals`,
        default 30; 0 refuses them at once); ``secrets`` are :class:`Secret` values bound to
        hosts, which the guest never sees. A sandbox restored from a snapshot takes everything
        but ``name`` and ``timeout_sec`` from it."""
        client = client or Client()
        spec: Dict[str, Any] = {
            "name": name,
            "image": image,
            "snapshot": snapshot,
            "share": share,
            "projectDir": project_dir,
            "net": net,
            "allow": allow,
            "deny": deny,
            "tlsInspect": tls_inspect,
            "env": dict(env) if env is not None else None,
            "user": user,
            "workdir": workdir,
            "cpus": cpus,
            "memoryMb": memory_mb,
            "timeoutSec": timeout_sec,
            "labels": dict(labels) if labels is not None else None,
            "approvalTimeoutSec": approval_timeout_sec,
            "secrets": None
            if secrets is None
            else [x.to_json() if isinstance(x, Secret) else dict(x) for x in secrets],
        }
        body = {k: v for k, v in spec.items() if v is not None}
        return cls(client, SandboxInfo.parse(client.json("POST", "/v1/sandboxes", json_body=body)))

    @classmethod
    def connect(cls, id: str, *, client: Optional[Client] = None) -> "Sandbox":
        """The sandbox ``id`` names (an id, a name, or a unique id prefix)."""
        client = client or Client()
        return cls(client, SandboxInfo.parse(client.json("GET", f"/v1/sandboxes/{path_segment(id)}")))

    @classmethod
    def list(
        cls,
        labels: Optional[LabelFilter] = None,
        *,
        all: bool = False,
        client: Optional[Client] = None,
    ) -> List["Sandbox"]:
        """The running sandboxes (``all``: stopped ones too) that have every label asked for."""
        client = client or Client()
        data = client.json(
            "GET",
            "/v1/sandboxes",
            query={"label": label_query(labels), "all": True if all else None},
        )
        items = data.get("sandboxes") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise protocol_error("The server sent a sandbox list without sandboxes")
        return [cls(client, SandboxInfo.parse(item)) for item in items]

    def refresh(self) -> SandboxInfo:
        """Ask the server about it again."""
        self.info = SandboxInfo.parse(self.client.json("GET", self._path()))
        return self.info

    def set_timeout(self, timeout_sec: int) -> SandboxInfo:
        """Stop it ``timeout_sec`` seconds from now (0: never)."""
        self.info = SandboxInfo.parse(
            self.client.json("POST", self._path("/timeout"), json_body={"timeoutSec": timeout_sec})
        )
        return self.info

    def stop(self, *, time_sec: Optional[int] = None, kill: bool = False) -> SandboxInfo:
        """Stop it, keeping its changes for review (``time_sec``: grace before SIGKILL)."""
        body: Dict[str, Any] = {}
        if time_sec is not None:
            body["timeSec"] = time_sec
        if kill:
            body["kill"] = True
        self.info = SandboxInfo.parse(self.client.json("POST", self._path("/stop"), json_body=body))
        return self.info

    def delete(self, *, force: bool = True) -> None:
        """Delete it, stopping it first (``force=False``: refuse while it runs)."""
        self.client.json("DELETE", self._path(), query={"force": force})

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.delete()
        except NotFoundError:
            pass  # Deleted already.

    # -- commands ---------------------------------------------------------------------------

    def exec_stream(
        self,
        argv: List[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        stdin: Union[bytes, str, None] = None,
        timeout_sec: Optional[int] = None,
    ) -> ExecStream:
        """Start ``argv`` and return its events as they come (see :class:`ExecStream`)."""
        if isinstance(argv, (str, bytes)) or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv: pass a list of strings (for a shell command line use sh())")
        spec: Dict[str, Any] = {
            "argv": list(argv),
            "env": dict(env) if env is not None else None,
            "cwd": cwd,
            "user": user,
            "stdin": encode_stdin(stdin),
            "timeoutSec": timeout_sec,
        }
        response = self.client.request(
            "POST",
            self._path("/exec"),
            json_body={k: v for k, v in spec.items() if v is not None},
            accept="application/x-ndjson",
            ok=(200,),
        )
        return ExecStream(response.lines(), response.close)

    def exec(
        self,
        argv: List[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        stdin: Union[bytes, str, None] = None,
        timeout_sec: Optional[int] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        capture: bool = True,
        check: bool = False,
    ) -> ExecResult:
        """Run ``argv`` (a list: no shell) to its end. Output goes to ``on_stdout`` and
        ``on_stderr`` as it arrives and, unless ``capture`` is False, into the result's
        ``stdout``/``stderr`` bytes. ``check``: raise :class:`CommandError` unless it exits 0."""
        with self.exec_stream(
            argv, env=env, cwd=cwd, user=user, stdin=stdin, timeout_sec=timeout_sec
        ) as run:
            result = collect(list(argv), run, on_stdout, on_stderr, capture)
        return result.check() if check else result

    def sh(self, template: str, *args: Any, **kwargs: Any) -> ExecResult:
        """Run a ``/bin/sh`` command line whose ``{}`` / ``{name}`` fields are filled with
        ``args`` / keyword arguments, each value quoted (``shlex.quote``; a list becomes one
        word per item). The other keyword arguments are :meth:`exec`'s options (``env``,
        ``cwd``, ``user``, ``stdin``, ``timeout_sec``, ``on_stdout``, ``on_stderr``,
        ``capture``, ``check``); a field cannot have one of their names.

        >>> sb.sh("grep -rn {pattern} {dirs} | head", pattern="a b", dirs=["src", "lib"])  # doctest: +SKIP
        """
        for _, field, _, _ in string.Formatter().parse(template):
            if field is not None and field.split(".")[0].split("[")[0] in SH_OPTIONS:
                raise TypeError(
                    f"sh(): the field {{{field}}} has the name of an option: rename it"
                )
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in SH_OPTIONS}
        command = shell_command(template, *args, **kwargs)
        return self.exec(["/bin/sh", "-c", command], **options)

    def pty(
        self,
        argv: List[str],
        *,
        rows: int = 24,
        cols: int = 80,
        term: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
    ) -> Pty:
        """Start ``argv`` on a terminal of ``rows`` x ``cols`` (``TERM`` ``term``, default
        ``xterm-256color``) over a WebSocket; returns once it started. See :class:`Pty`."""
        if isinstance(argv, (str, bytes)) or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv: pass a list of strings")
        sock, host = self.client.open_socket()
        try:
            ws = handshake(sock, host, self._path("/pty"), self.client.auth_headers(), PTY_SUBPROTOCOL)
            start: Dict[str, Any] = {
                "type": "start",
                "argv": list(argv),
                "rows": rows,
                "cols": cols,
                "term": term,
                "env": dict(env) if env is not None else None,
                "cwd": cwd,
                "user": user,
            }
            ws.send_text({k: v for k, v in start.items() if v is not None})
            pty = Pty(ws, list(argv))
            pty._await_start(time.monotonic() + PTY_START_SECONDS)
        except BaseException:
            sock.close()
            raise
        return pty

    # -- changes and snapshots --------------------------------------------------------------

    def changes(self, paths: Optional[List[str]] = None, *, hide_ignored: bool = False) -> Changes:
        """The workspace's changes (collected now from a running sandbox); ``paths``:
        project-relative paths or globs to show."""
        return Changes.parse(
            self.client.json(
                "GET",
                self._path("/changes"),
                query={"path": list(paths) if paths else None, "hideIgnored": hide_ignored or None},
            )
        )

    def apply(
        self,
        paths: Optional[List[str]] = None,
        *,
        dry_run: bool = False,
        force: bool = False,
        allow_symlinks: bool = False,
        exact_modes: bool = False,
        allow_high_risk: bool = False,
    ) -> ApplyResult:
        """Apply the changes (or only ``paths``: project-relative paths or globs) to the project
        on the host."""
        body = _apply_body(
            paths,
            dry_run=dry_run,
            force=force,
            allow_symlinks=allow_symlinks,
            exact_modes=exact_modes,
            allow_high_risk=allow_high_risk,
        )
        return ApplyResult.parse(
            self.client.json("POST", self._path("/changes/apply"), json_body=body)
        )

    def review(
        self,
        paths: Optional[List[str]] = None,
        *,
        force: bool = False,
        allow_symlinks: bool = False,
        exact_modes: bool = False,
        allow_high_risk: bool = False,
    ) -> Dict[str, Any]:
        """Submit an apply (of ``paths``, or all) for review: nothing is written until an
        approver accepts it (:meth:`Client.decide_review`). Returns the pending review
        (``{"id", "planned", "state", ...}``)."""
        body = _apply_body(
            paths,
            force=force,
            allow_symlinks=allow_symlinks,
            exact_modes=exact_modes,
            allow_high_risk=allow_high_risk,
        )
        review = self.client.json("POST", self._path("/changes/review"), json_body=body)
        if not isinstance(review, dict) or not isinstance(review.get("id"), int):
            raise protocol_error("The server sent a review without its id")
        return review

    def approvals(self, *, all: bool = False) -> List[Dict[str, Any]]:
        """This sandbox's graylisted destinations waiting for an answer (see
        :meth:`Client.approvals`)."""
        return self.client.approvals(self.id, all=all)

    def discard(self) -> None:
        """Discard the changes not applied."""
        self.client.json("POST", self._path("/changes/discard"))

    def snapshot(self, name: str) -> str:
        """Save it (running) as the snapshot ``name``; restore with
        ``Sandbox.create(snapshot=name)``."""
        data = self.client.json("POST", self._path("/snapshots"), json_body={"name": name})
        saved = data.get("name") if isinstance(data, dict) else None
        if not isinstance(saved, str):
            raise protocol_error("The server sent a snapshot answer without its name")
        return saved


def label_query(labels: Optional[LabelFilter]) -> Optional[List[str]]:
    """``label`` query values (``KEY=VALUE``, or ``KEY``: has the label)."""
    if labels is None:
        return None
    if isinstance(labels, str):
        return [labels]
    if isinstance(labels, Mapping):
        return [k if v is None else f"{k}={v}" for k, v in labels.items()]
    return list(labels)


def _apply_body(paths: Optional[List[str]], **flags: bool) -> Dict[str, Any]:
    """The body of an apply (or a review): the paths, and the flags that are set, named as the
    server names them."""
    names = {
        "dry_run": "dryRun",
        "force": "force",
        "allow_symlinks": "allowSymlinks",
        "exact_modes": "exactModes",
        "allow_high_risk": "allowHighRisk",
    }
    body: Dict[str, Any] = {names[k]: True for k, v in flags.items() if v}
    if paths is not None:
        if isinstance(paths, str):
            raise TypeError("paths: pass a list of paths, not one string")
        body["paths"] = list(paths)
    return body
