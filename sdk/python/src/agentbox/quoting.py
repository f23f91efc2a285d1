"""Shell command lines with every interpolated value quoted: the Python counterpart of the
TypeScript SDK's ``sh`` tagged template.

>>> shell_command("ls -l {} | wc -l", "my dir; rm -rf /")
"ls -l 'my dir; rm -rf /' | wc -l"
>>> shell_command("cp {files} {dest}", files=["a b", "c"], dest="/tmp/x y")
"cp 'a b' c '/tmp/x y'"
"""

from __future__ import annotations

import shlex
import string
from typing import Any


class _QuotingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, (list, tuple)):
            return " ".join(_quote(v, format_spec) for v in value)
        return _quote(value, format_spec)


def _quote(value: Any, format_spec: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("sh(): pass text, not bytes (decode it first)")
    if value is None:
        raise TypeError("sh(): a value to interpolate is None")
    return shlex.quote(format(value, format_spec))


_FORMATTER = _QuotingFormatter()


def shell_command(template: str, *args: Any, **kwargs: Any) -> str:
    """``template`` with its ``{}`` / ``{name}`` fields filled (``str.format`` rules) and each
    value quoted for ``/bin/sh`` (``shlex.quote``); a list or tuple becomes one quoted word per
    item. The template itself is the caller's shell code and is not quoted: never build it from
    untrusted text, pass that as a value."""
    return _FORMATTER.vformat(template, args, kwargs)
