"""HTTP/1.1 to ``agentbox serve``: over its unix socket (the default, no token), or over a TCP
address started with ``--listen`` (``http://`` or ``https://``) with the bearer token.

One connection per request: the unix socket and loopback make connecting cheap, a streamed
answer owns its connection until it is read, and a client can be shared by threads.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import stat
from typing import Any, BinaryIO, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

from .errors import AgentboxError, UnavailableError, error_from_body, protocol_error

#: A query value: a list repeats the parameter, None leaves it out.
QueryValue = Union[str, int, bool, List[str], None]
#: A request body: bytes, text (sent as UTF-8), or a binary file object (streamed, chunked).
Body = Union[bytes, bytearray, memoryview, str, BinaryIO]

_READ_SIZE = 64 * 1024


def default_socket_path(env: Optional[Mapping[str, str]] = None, uid: Optional[int] = None) -> str:
    """The server's default socket, by the rule the server picks its runtime directory with:
    ``$XDG_RUNTIME_DIR/agentbox/serve.sock`` when that directory is ours and private (0700), else
    ``/run/user/UID/agentbox/serve.sock`` when that one is, else
    ``$XDG_STATE_HOME/agentbox/run/serve.sock`` (``~/.local/state/agentbox/run/serve.sock``)."""
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    for base in (env.get("XDG_RUNTIME_DIR"), f"/run/user/{uid}"):
        if base and base.startswith("/") and _is_private_dir(base, uid):
            return f"{base}/agentbox/serve.sock"
    state = env.get("XDG_STATE_HOME")
    if not (state and state.startswith("/")):
        home = env.get("HOME") or "/root"
        state = f"{home}/.local/state"
    return f"{state}/agentbox/run/serve.sock"


def _is_private_dir(path: str, uid: int) -> bool:
    """Whether ``path`` is a directory (not a link) of ``uid`` only it can enter, below
    directories nobody else may swap (the server's check)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        return False
    parent = os.path.realpath(os.path.dirname(path) or "/")
    parts = [p for p in parent.split("/") if p]
    for i in range(len(parts), -1, -1):
        directory = "/" + "/".join(parts[:i])
        try:
            above = os.lstat(directory)
        except OSError:
            return False
        if above.st_uid not in (uid, 0):
            return False
        if above.st_mode & 0o022 and not above.st_mode & stat.S_ISVTX:
            return False
    return True


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP connection over a unix socket."""

    def __init__(self, path: str, timeout: Optional[float]) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def build_query(query: Optional[Mapping[str, QueryValue]]) -> str:
    """``?a=1&b=x&b=y`` from a mapping (lists repeat, None is left out, booleans are
    ``true``/``false``); empty when nothing is left."""
    pairs: List[Tuple[str, str]] = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            pairs.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


def path_segment(value: str) -> str:
    """``value`` escaped as one path segment (a sandbox id or name)."""
    return quote(value, safe="")


class Response:
    """An answer whose body is read as it arrives: :meth:`lines`, :meth:`chunks`, :meth:`read`.
    Closing it (or leaving a ``with`` block) drops the connection, which tells the server to stop
    what it was doing for it."""

    def __init__(self, connection: http.client.HTTPConnection, raw: http.client.HTTPResponse):
        self._connection = connection
        self._raw = raw
        self.status: int = raw.status
        self.headers = raw.headers

    def read(self) -> bytes:
        try:
            return self._raw.read()
        finally:
            self.close()

    def json(self) -> Any:
        body = self.read()
        try:
            return json.loads(body)
        except ValueError:
            raise protocol_error(f"The server answered {self.status} with a body that is not JSON")

    def chunks(self, size: int = _READ_SIZE) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._raw.read1(size) if hasattr(self._raw, "read1") else self._raw.read(size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def lines(self) -> Iterator[bytes]:
        """The body's lines (without their newline), as they arrive."""
        try:
            while True:
                line = self._raw.readline()
                if not line:
                    return
                yield line.rstrip(b"\r\n")
        finally:
            self.close()

    def close(self) -> None:
        self._raw.close()
        self._connection.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """Where and how to reach the server.

    - ``Client()``: ``AGENTBOX_URL`` (with ``AGENTBOX_TOKEN``) when set, else the unix socket.
    - ``Client(socket_path=...)``: that unix socket.
    - ``Client(url="http://127.0.0.1:7070", token=...)``: a TCP address (``https://`` for TLS;
      ``cafile`` trusts a private CA, ``ssl_context`` replaces the default one).

    ``timeout`` (seconds, default none) bounds connecting and each wait for bytes; a command that
    prints nothing for longer than it would be cut off, so leave it unset for long commands.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        socket_path: Optional[str] = None,
        cafile: Optional[str] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        timeout: Optional[float] = None,
    ) -> None:
        if url is None and socket_path is None:
            url = os.environ.get("AGENTBOX_URL") or None
        if token is None and url is not None:
            token = os.environ.get("AGENTBOX_TOKEN") or None
        self.timeout = timeout
        self.token = token
        self.url = url
        self.socket_path: Optional[str] = None
        self._ssl: Optional[ssl.SSLContext] = None
        if url is None:
            self.socket_path = socket_path or default_socket_path()
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AgentboxError(
                f"{url!r} is not an http:// or https:// URL of agentbox serve",
                kind="usage",
                code="url_invalid",
                status=0,
            )
        if parts.path not in ("", "/") or parts.query:
            raise AgentboxError(
                f"{url!r}: give the server's address only (scheme://host:port)",
                kind="usage",
                code="url_invalid",
                status=0,
            )
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        if parts.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context(cafile=cafile)

    def __repr__(self) -> str:
        where = self.url if self.url is not None else f"unix:{self.socket_path}"
        return f"Client({where!r})"

    def _connect(self) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            return _UnixConnection(self.socket_path, self.timeout)
        if self._ssl is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _unreachable(self, error: OSError) -> UnavailableError:
        where = self.url if self.url is not None else f"unix:{self.socket_path}"
        return UnavailableError(
            f"Cannot reach agentbox serve at {where}: {error}"
            + ("" if self.url is not None else " (is `agentbox serve` running?)"),
            kind="unavailable",
            code="connection_failed",
            status=0,
        )

    def auth_headers(self) -> Dict[str, str]:
        """The headers that prove who the client is (the bearer token, when there is one)."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def open_socket(self) -> Tuple[socket.socket, str]:
        """A socket connected to the server (TLS done), and the Host header for it: for the
        requests http.client cannot make, such as the terminal's WebSocket."""
        connection = self._connect()
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise self._unreachable(error) from error
        sock = connection.sock
        connection.sock = None  # The socket is the caller's now.
        host = "localhost" if self.socket_path is not None else urlsplit(self.url or "").netloc
        return sock, host

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, QueryValue]] = None,
        json_body: Any = None,
        body: Optional[Body] = None,
        accept: str = "application/json",
        ok: Iterable[int] = (200, 201, 204),
    ) -> Response:
        """Send one request; an answer with a status outside ``ok`` raises the error its body
        describes. The caller reads (or closes) the answer."""
        headers: Dict[str, str] = {"Accept": accept, **self.auth_headers()}
        payload: Any = None
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif body is not None:
            headers["Content-Type"] = "application/octet-stream"
            if isinstance(body, str):
                payload = body.encode()
            elif isinstance(body, (bytes, bytearray, memoryview)):
                payload = bytes(body)
            else:
                payload = body  # a file object: sent chunked as it is read
        elif method in ("POST", "PUT"):
            payload = b""
        connection = self._connect()
        target = path + build_query(query)
        try:
            connection.request(method, target, body=payload, headers=headers)
            raw = connection.getresponse()
        except OSError as error:
            connection.close()
            raise self._unreachable(error) from error
        response = Response(connection, raw)
        if response.status in ok:
            return response
        data = response.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        raise error_from_body(
            response.status, parsed, f"{method} {path}: HTTP {response.status} {raw.reason}"
        )

    def json(self, method: str, path: str, **options: Any) -> Any:
        """Send one request and parse its JSON answer (None for a 204)."""
        response = self.request(method, path, **options)
        if response.status == 204:
            response.close()
            return None
        return response.json()

    # -- what is not a sandbox's: answered as the server's JSON ------------------------------

    def images(self) -> Any:
        """The images built on the server's machine (``GET /v1/images``)."""
        return self.json("GET", "/v1/images")

    def snapshots(self) -> Any:
        """The saved snapshots (``GET /v1/snapshots``)."""
        return self.json("GET", "/v1/snapshots")

    def requests(self, session: Optional[str] = None, *, limit: Optional[int] = None) -> Any:
        """The request log (egress decisions), oldest first (``GET /v1/requests``)."""
        return self.json("GET", "/v1/requests", query={"session": session, "limit": limit})

    def usage(self, session: Optional[str] = None, *, by: Optional[str] = None) -> Any:
        """Requests, bytes and AI tokens, grouped ``by`` model, host or session."""
        return self.json("GET", "/v1/usage", query={"session": session, "by": by})

    # -- human decisions: graylisted destinations and applies held for review -----------------

    def approvals(
        self, session: Optional[str] = None, *, all: bool = False, limit: Optional[int] = None
    ) -> List[Dict[str, Any]]:
        """Graylisted destinations waiting for an answer (``all``: decided ones too, newest
        first): ``{"id", "session", "host", "port", "deadline", "state", "decision", ...}``."""
        return self._list("/v1/approvals", "approvals", session, all, limit)

    def answer_approval(self, id: int, decision: str) -> Dict[str, Any]:
        """Answer an approval: ``once``, ``session``, ``always`` or ``deny`` (recorded as this
        client's); returns the decided approval."""
        return self.json("POST", f"/v1/approvals/{int(id)}", json_body={"decision": decision})

    def reviews(
        self, session: Optional[str] = None, *, all: bool = False, limit: Optional[int] = None
    ) -> List[Dict[str, Any]]:
        """Applies held for review (``all``: decided ones too, newest first)."""
        return self._list("/v1/reviews", "reviews", session, all, limit)

    def decide_review(self, id: int, decision: str) -> Dict[str, Any]:
        """``accept`` (the apply runs as submitted) or ``reject`` a review; returns
        ``{"review", "applied"}`` (``applied``: what the apply did, for an accept)."""
        return self.json("POST", f"/v1/reviews/{int(id)}", json_body={"decision": decision})

    def _list(
        self, path: str, key: str, session: Optional[str], all: bool, limit: Optional[int]
    ) -> List[Dict[str, Any]]:
        data = self.json(
            "GET", path, query={"session": session, "all": True if all else None, "limit": limit}
        )
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list) or not all_dicts(items):
            raise protocol_error(f"The server sent a {key} list that is not one")
        return items


def all_dicts(items: List[Any]) -> bool:
    return all(isinstance(item, dict) for item in items)
