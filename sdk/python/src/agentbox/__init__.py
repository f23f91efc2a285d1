"""The Python client of ``agentbox serve``: sandboxes in microVMs, their commands, files,
workspace changes and snapshots. Standard library only; synchronous.

>>> from agentbox import Sandbox                                   # doctest: +SKIP
>>> with Sandbox.create(share="/home/me/project") as sb:
...     result = sb.exec(["make", "test"], on_stdout=lambda b: print(b.decode(), end=""))
...     print(result.exit_code, sb.changes().paths)
"""

from .errors import (
    AgentboxError,
    CommandError,
    CommandNotFoundError,
    ConflictError,
    DeadlineError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    UsageError,
)
from .exec import ExecEvent, ExecResult, ExecStream
from .files import Files
from .models import ApplyResult, Change, Changes, Entry, SandboxInfo, Secret
from .pty import Pty
from .quoting import shell_command
from .sandbox import Sandbox
from .transport import Client, default_socket_path

#: The SDK's version: the agentbox server's it was released with.
__version__ = "0.1.0"

__all__ = [
    "AgentboxError",
    "ApplyResult",
    "Change",
    "Changes",
    "Client",
    "CommandError",
    "CommandNotFoundError",
    "ConflictError",
    "DeadlineError",
    "Entry",
    "ExecEvent",
    "ExecResult",
    "ExecStream",
    "Files",
    "NotFoundError",
    "Pty",
    "Sandbox",
    "SandboxInfo",
    "Secret",
    "UnauthorizedError",
    "UnavailableError",
    "UsageError",
    "default_socket_path",
    "shell_command",
    "__version__",
]
