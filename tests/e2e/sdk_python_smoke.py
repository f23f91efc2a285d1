"""The Python SDK's smoke against a real `agentbox serve` (run by sdk_python_test.ts).

Environment: PROJECT (the shared project directory), AGENTBOX_TEST_URL / AGENTBOX_TEST_TOKEN
(the server's TCP address and token), AGENTBOX_TEST_CAFILE (its TLS certificate), and the XDG
variables that put the default unix socket where the server listens. Prints one JSON line of
what the Deno side checks on the host; any failed check raises (exit status 1).
"""

import dataclasses
import hashlib
import io
import json
import os
import sys

from agentbox import (
    Client,
    CommandError,
    CommandNotFoundError,
    NotFoundError,
    Sandbox,
    UnauthorizedError,
)
from agentbox.pty import PTY_SUBPROTOCOL, Pty
from agentbox.websocket import BINARY, handshake

PROJECT = os.environ["PROJECT"]
URL = os.environ["AGENTBOX_TEST_URL"]
TOKEN = os.environ["AGENTBOX_TEST_TOKEN"]
CAFILE = os.environ.get("AGENTBOX_TEST_CAFILE")
STREAM_BYTES = int(os.environ.get("AGENTBOX_TEST_STREAM_BYTES", str(4 * 1024 * 1024)))


def step(text):
    print(f"-- {text}", file=sys.stderr, flush=True)


def main():
    report = {}
    step("create a sandbox with a share and a policy, over the unix socket")
    with Sandbox.create(
        name="py-smoke",
        share=PROJECT,
        net="allowlist",
        allow=["example.com"],
        labels={"suite": "sdk-py"},
        env={"GREETING": "hi from the spec"},
    ) as sb:
        report["sandbox"] = sb.id
        assert sb.info.state == "running", sb.info
        assert sb.info.labels == {"suite": "sdk-py"}, sb.info.labels
        listed = [s.id for s in Sandbox.list(labels={"suite": "sdk-py"})]
        assert listed == [sb.id], listed
        assert Sandbox.list(labels={"suite": "other"}) == []
        assert Sandbox.connect("py-smoke").id == sb.id

        step("exec with streamed output, byte-exact")
        blob = os.urandom(STREAM_BYTES)
        sb.files.write("/tmp/blob.bin", io.BytesIO(blob))  # a file object: uploaded chunked
        downloaded = io.BytesIO()
        sb.files.read("/tmp/blob.bin", out=downloaded)  # streamed into a file
        assert downloaded.getvalue() == blob, "the round trip through files changed the bytes"
        digest = hashlib.sha256()
        chunks = []

        def on_stdout(data):
            digest.update(data)
            chunks.append(len(data))

        errors = []
        result = sb.exec(
            ["sh", "-c", 'cat /tmp/blob.bin; echo "$GREETING" >&2; exit 7'],
            on_stdout=on_stdout,
            on_stderr=errors.append,
        )
        expected = hashlib.sha256(blob).hexdigest()
        assert digest.hexdigest() == expected, "streamed bytes differ"
        assert hashlib.sha256(result.stdout).hexdigest() == expected, "captured bytes differ"
        assert len(chunks) > 1, f"output came in {len(chunks)} chunk(s), not streamed"
        assert result.exit_code == 7 and result.stderr == b"hi from the spec\n", result
        assert b"".join(errors) == result.stderr
        report["streamed"] = {"bytes": len(blob), "chunks": len(chunks), "sha256": expected}

        step("the iterator form, stdin, env and cwd")
        with sb.exec_stream(["cat"], stdin=b"\x00in\xff") as run:
            events = list(run)
        assert [e.type for e in events][0] == "started" and events[-1].type == "exit", events
        assert b"".join(e.data for e in events if e.type == "stdout") == b"\x00in\xff"
        assert run.exit_code == 0
        result = sb.exec(["sh", "-c", 'echo "$X:$(pwd)"'], env={"X": "y z"}, cwd="/tmp")
        assert result.stdout == b"y z:/tmp\n", result

        step("a command that is not there: an error, and the server lives on")
        for attempt in (
            lambda: sb.exec(["no-such-command"]),
            lambda: sb.pty(["no-such-command"]),
        ):
            try:
                attempt()
                raise AssertionError("a missing command did not raise")
            except CommandNotFoundError as error:
                assert error.kind == "command_not_found", repr(error)
            assert sb.exec(["true"]).exit_code == 0

        step("sh quotes what it interpolates")
        hostile = "a b; echo pwned $(id) `id` 'q' \"d\" \\ *"
        result = sb.sh("printf %s {} {more}", hostile, more=["x y", ""], check=True)
        assert result.stdout == (hostile + "x y").encode(), result.stdout
        try:
            sb.sh("exit 3", check=True)
            raise AssertionError("check=True did not raise")
        except CommandError as error:
            assert error.result.exit_code == 3, error

        step("write, read, list, stat, move and remove binary files")
        data = bytes(range(256)) * 1024
        sb.files.write("data/bin.dat", data, mode=0o640)
        assert sb.files.read("data/bin.dat") == data
        assert sb.files.read("/workspace/data/bin.dat") == data
        entry = sb.files.stat("data/bin.dat")
        assert (entry.type, entry.size, entry.mode & 0o777) == ("file", len(data), 0o640), entry
        assert sb.files.mkdir("data/sub") is True and sb.files.mkdir("data/sub") is False
        sb.files.move("data/bin.dat", "data/sub/moved.dat")
        names = [e.path for e in sb.files.list("data", depth=2)]
        assert names == ["/workspace/data/sub", "/workspace/data/sub/moved.dat"], names
        sb.files.remove("data")
        assert not sb.files.exists("data")
        try:
            sb.files.read("no/such/file")
            raise AssertionError("reading a missing file did not raise")
        except NotFoundError as error:
            assert error.status == 404, error

        step("a terminal over the WebSocket, with a resize")
        with sb.pty(["/bin/sh"], rows=24, cols=80) as term:
            term.write("stty size\n")
            term.expect("24 80", timeout=120)
            term.resize(40, 100)
            term.write("stty size; echo $TERM; exit 3\n")
            term.expect("40 100", timeout=120)
            ended = term.wait(timeout=120)
        assert ended.exit_code == 3 and b"xterm-256color" in ended.stdout, ended

        step("input and a resize sent right after the start message are kept, not refused")
        sock, host = sb.client.open_socket()
        ws = handshake(sock, host, f"/v1/sandboxes/{sb.id}/pty", {}, PTY_SUBPROTOCOL)
        ws.send_text({"type": "start", "argv": ["/bin/sh"], "rows": 24, "cols": 80})
        ws.send_text({"type": "resize", "rows": 30, "cols": 90})
        ws.send(BINARY, b"stty size; exit 4\n")
        early = Pty(ws, ["/bin/sh"])
        try:
            ended = early.wait(timeout=120)
        finally:
            early.close()
        assert ended.exit_code == 4 and b"30 90" in ended.stdout, ended

        step("the diff; apply one path, discard the rest")
        sb.sh("echo keep > keep.txt && echo drop > drop.txt && echo changed >> hello.txt", check=True)
        changes = sb.changes()
        assert changes.project == PROJECT, changes.project
        assert sorted(changes.paths) == ["drop.txt", "hello.txt", "keep.txt"], changes.paths
        applied = sb.apply(paths=["keep.txt"])
        assert applied.counts.get("applied") == 1, applied
        assert [o["path"] for o in applied.outcomes if o.get("result") == "applied"] == ["keep.txt"]
        step("an apply held for review: accepted, and one rejected")
        sb.sh("echo reviewed > reviewed.txt", check=True)
        held = sb.review(paths=["reviewed.txt"])
        assert [p["path"] for p in held["planned"]] == ["reviewed.txt"], held
        assert not os.path.exists(os.path.join(PROJECT, "reviewed.txt")), "written before review"
        pending = [r["id"] for r in sb.client.reviews(session=sb.id)]
        assert pending == [held["id"]], pending
        decided = sb.client.decide_review(held["id"], "accept")
        assert decided["review"]["state"] == "accepted", decided
        assert decided["applied"]["counts"].get("applied") == 1, decided
        refused = sb.review(paths=["drop.txt"])
        decided = sb.client.decide_review(refused["id"], "reject")
        assert decided["review"]["state"] == "rejected" and decided["applied"] is None, decided
        assert sb.client.reviews(session=sb.id) == []
        assert sb.approvals() == []
        sb.discard()
        report["applied"] = ["keep.txt", "reviewed.txt"]

        step("snapshot and restore")
        sb.sh("echo from-before-the-snapshot > /tmp/marker", check=True)
        assert sb.snapshot("py-snap") == "py-snap"
        with Sandbox.create(snapshot="py-snap", name="py-restored") as restored:
            report["restored"] = restored.id
            assert restored.id != sb.id
            marker = restored.files.read("/tmp/marker")
            assert marker == b"from-before-the-snapshot\n", marker
            info = restored.set_timeout(600)
            assert info.expires_at is not None, info
            stopped = restored.stop()
            assert stopped.state != "running", stopped

        step("errors: unknown sandboxes are not found")
        for call in (
            lambda: Sandbox.connect("no-such-sandbox"),
            lambda: Sandbox(sb.client, dataclasses.replace(sb.info, id="no-such")).exec(["true"]),
        ):
            try:
                call()
                raise AssertionError("an unknown sandbox did not raise")
            except NotFoundError as error:
                assert (error.status, error.kind, error.code) == (
                    404,
                    "not_found",
                    "session_unknown",
                ), repr(error)

        step("TCP (TLS) with the token; a wrong token is refused")
        remote = Client(url=URL, token=TOKEN, cafile=CAFILE)
        assert sb.id in [s.id for s in Sandbox.list(client=remote)]
        assert Sandbox.connect(sb.id, client=remote).exec(["echo", "tcp"]).stdout == b"tcp\n"
        for token in ("wrong-token", None):
            try:
                Sandbox.list(client=Client(url=URL, token=token, cafile=CAFILE))
                raise AssertionError(f"token {token!r} was accepted")
            except UnauthorizedError as error:
                assert (error.status, error.code) == (401, "unauthorized"), repr(error)

    step("the context manager deleted both")
    for gone in (report["sandbox"], report["restored"]):
        try:
            Sandbox.connect(gone)
            raise AssertionError(f"{gone} is still there")
        except NotFoundError:
            pass
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
