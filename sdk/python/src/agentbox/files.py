"""A running sandbox's guest files: read, write, list, stat, make, move, remove; a directory as
a tar archive. Paths are guest paths; a relative one is taken from ``/workspace``."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, List, Optional

from .errors import NotFoundError, protocol_error
from .models import Entry
from .transport import Body

if TYPE_CHECKING:
    from .sandbox import Sandbox


class Files:
    """``sandbox.files``."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sandbox = sandbox

    def _path(self, suffix: str = "") -> str:
        return self._sandbox._path("/files" + suffix)

    def read(self, path: str, *, user: Optional[str] = None, out: Optional[IO[bytes]] = None) -> bytes:
        """The file's bytes; with ``out``, they are streamed into that binary file instead (and
        ``b""`` is returned)."""
        return self._read(path, user=user, out=out, tar=False)

    def read_text(self, path: str, *, user: Optional[str] = None, encoding: str = "utf-8") -> str:
        return self.read(path, user=user).decode(encoding)

    def read_tar(self, path: str, *, user: Optional[str] = None, out: Optional[IO[bytes]] = None) -> bytes:
        """A directory as a tar archive (streamed into ``out`` when given)."""
        return self._read(path, user=user, out=out, tar=True)

    def _read(self, path: str, *, user: Optional[str], out: Optional[IO[bytes]], tar: bool) -> bytes:
        response = self._sandbox.client.request(
            "GET",
            self._path(),
            query={"path": path, "user": user, "tar": True if tar else None},
            accept="application/octet-stream",
            ok=(200,),
        )
        if out is None:
            return response.read()
        for chunk in response.chunks():
            out.write(chunk)
        return b""

    def write(
        self,
        path: str,
        data: Body,
        *,
        mode: Optional[int] = None,
        user: Optional[str] = None,
    ) -> None:
        """Write a file (its parents are made): ``data`` is bytes, text (UTF-8) or a binary file
        object (streamed). ``mode`` is the file's permission bits, e.g. ``0o755``."""
        self._write(path, data, mode=mode, user=user, tar=False)

    def write_tar(self, path: str, data: Body, *, user: Optional[str] = None) -> None:
        """Unpack a tar archive into the directory ``path``."""
        self._write(path, data, mode=None, user=user, tar=True)

    def _write(
        self, path: str, data: Body, *, mode: Optional[int], user: Optional[str], tar: bool
    ) -> None:
        if mode is not None and not (isinstance(mode, int) and 0 <= mode <= 0o7777):
            raise ValueError(f"mode: expected permission bits such as 0o644, not {mode!r}")
        self._sandbox.client.request(
            "PUT",
            self._path(),
            query={
                "path": path,
                "user": user,
                "tar": True if tar else None,
                "mode": None if mode is None else format(mode, "03o"),
            },
            body=data,
            ok=(204,),
        ).close()

    def list(self, path: str = ".", *, depth: Optional[int] = None, user: Optional[str] = None) -> List[Entry]:
        """The directory's entries, sorted by path (``depth`` levels down, default 1)."""
        data = self._sandbox.client.json(
            "GET", self._path("/list"), query={"path": path, "depth": depth, "user": user}
        )
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise protocol_error("The server sent a listing without entries")
        return [Entry.parse(e) for e in entries]

    def stat(self, path: str, *, user: Optional[str] = None) -> Entry:
        """The path (a link is not followed)."""
        return Entry.parse(
            self._sandbox.client.json("GET", self._path("/stat"), query={"path": path, "user": user})
        )

    def exists(self, path: str, *, user: Optional[str] = None) -> bool:
        try:
            self.stat(path, user=user)
            return True
        except NotFoundError:
            return False

    def mkdir(self, path: str, *, user: Optional[str] = None) -> bool:
        """Make a directory and its parents; False when it existed."""
        data = self._sandbox.client.json(
            "POST", self._path("/mkdir"), query={"path": path, "user": user}
        )
        return bool(isinstance(data, dict) and data.get("created") is True)

    def move(self, source: str, destination: str, *, user: Optional[str] = None) -> None:
        body = {"from": source, "to": destination}
        if user is not None:
            body["user"] = user
        self._sandbox.client.json("POST", self._path("/move"), json_body=body)

    def remove(self, path: str, *, user: Optional[str] = None) -> None:
        """Remove a path (a directory recursively)."""
        self._sandbox.client.json("DELETE", self._path(), query={"path": path, "user": user})
