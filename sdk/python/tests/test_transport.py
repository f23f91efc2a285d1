import io
import json
import os
import socketserver
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler
from unittest import mock

from agentbox import (
    Client,
    ConflictError,
    NotFoundError,
    Sandbox,
    Secret,
    UnauthorizedError,
    UnavailableError,
    UsageError,
    default_socket_path,
)
from agentbox.errors import AgentboxError, error_from_body
from agentbox.sandbox import label_query
from agentbox.transport import build_query


class SocketPathTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.uid = os.getuid()

    def tearDown(self):
        os.chmod(self.dir, 0o700)
        os.rmdir(self.dir)

    def test_a_private_runtime_dir(self):
        os.chmod(self.dir, 0o700)
        self.assertEqual(
            default_socket_path({"XDG_RUNTIME_DIR": self.dir}, self.uid),
            f"{self.dir}/agentbox/serve.sock",
        )

    def test_an_unsafe_or_relative_runtime_dir_is_passed_over(self):
        os.chmod(self.dir, 0o755)
        if os.path.isdir(f"/run/user/{self.uid}"):
            self.skipTest(f"/run/user/{self.uid} exists here and would be chosen")
        for runtime in (self.dir, "relative/dir"):
            env = {"XDG_RUNTIME_DIR": runtime, "XDG_STATE_HOME": "/s", "HOME": "/h"}
            self.assertEqual(default_socket_path(env, self.uid), "/s/agentbox/run/serve.sock")
        self.assertEqual(
            default_socket_path({"HOME": "/h"}, self.uid), "/h/.local/state/agentbox/run/serve.sock"
        )

    def test_another_users_runtime_dir_is_passed_over(self):
        os.chmod(self.dir, 0o700)
        self.assertNotEqual(
            default_socket_path({"XDG_RUNTIME_DIR": self.dir, "HOME": "/h"}, self.uid + 4242),
            f"{self.dir}/agentbox/serve.sock",
        )


class QueryAndErrorsTest(unittest.TestCase):
    def test_build_query(self):
        self.assertEqual(build_query(None), "")
        self.assertEqual(build_query({"a": None}), "")
        self.assertEqual(
            build_query({"path": "a b&c", "label": ["k=v", "x"], "tar": True, "n": 2}),
            "?path=a+b%26c&label=k%3Dv&label=x&tar=true&n=2",
        )

    def test_label_query(self):
        self.assertEqual(label_query({"team": "web", "ci": None}), ["team=web", "ci"])
        self.assertEqual(label_query(["a=b"]), ["a=b"])
        self.assertEqual(label_query("a=b"), ["a=b"])
        self.assertIsNone(label_query(None))

    def test_answers_are_parsed_strictly(self):
        from agentbox import Changes, Entry, SandboxInfo

        info = SandboxInfo.parse({**_INFO, "future": 1})  # unknown keys are ignored
        self.assertEqual((info.id, info.started_at), ("s1", 0))
        for bad in ({**_INFO, "id": 3}, {**_INFO, "startedAt": True}, {**_INFO, "labels": {"a": 1}}, []):
            with self.assertRaises(AgentboxError, msg=bad) as caught:
                SandboxInfo.parse(bad)
            self.assertEqual(caught.exception.code, "protocol_error")
        entry = {"name": "a", "path": "/w/a", "type": "file", "size": 3, "mode": 420, "mtimeMs": 1.5}
        self.assertEqual(Entry.parse(entry).mtime_ms, 1.5)
        with self.assertRaises(AgentboxError):
            Entry.parse({**entry, "size": "3"})
        change = {"path": "x", "status": "added", "applied": False, "binary": False, "hostChanged": False}
        changes = Changes.parse(
            {"project": "/p", "entries": [change], "hiddenIgnored": 0, "hiddenByPath": 0, "applied": 0}
        )
        self.assertEqual(changes.paths, ["x"])

    def test_apply_body(self):
        from agentbox.sandbox import _apply_body

        self.assertEqual(
            _apply_body(["a b", "src/**"], dry_run=True, force=False, allow_high_risk=True),
            {"dryRun": True, "allowHighRisk": True, "paths": ["a b", "src/**"]},
        )
        self.assertEqual(_apply_body(None, force=False), {})
        with self.assertRaises(TypeError):
            _apply_body("one-string")

    def test_error_from_body_picks_the_class_by_kind_and_status(self):
        def body(kind, code="c"):
            return {"error": {"kind": kind, "code": code, "message": "m"}}

        self.assertIsInstance(error_from_body(404, body("not_found"), "f"), NotFoundError)
        self.assertIsInstance(error_from_body(409, body("state"), "f"), ConflictError)
        self.assertIsInstance(error_from_body(400, body("usage"), "f"), UsageError)
        self.assertIsInstance(error_from_body(401, body("usage", "unauthorized"), "f"), UnauthorizedError)
        odd = error_from_body(500, "<html>", "fallback")
        self.assertEqual((odd.kind, odd.code, odd.status, str(odd)), ("internal", "http_500", 500, "fallback"))
        self.assertIs(type(error_from_body(500, body("vm"), "f")), AgentboxError)

    def test_client_urls(self):
        with self.assertRaises(AgentboxError):
            Client(url="ftp://x")
        with self.assertRaises(AgentboxError):
            Client(url="http://127.0.0.1:1/v1")
        with mock.patch.dict(os.environ, {"AGENTBOX_URL": "http://127.0.0.1:9", "AGENTBOX_TOKEN": "t"}):
            client = Client()
            self.assertEqual((client.url, client.token, client.socket_path), ("http://127.0.0.1:9", "t", None))
            self.assertIsNotNone(Client(socket_path="/x.sock").socket_path)


class _Handler(BaseHTTPRequestHandler):
    """A stand-in server: records what it got, answers what the test asks."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.seen.append((self.command, self.path, dict(self.headers), b""))
        if self.headers.get("Authorization") != "Bearer right":
            error = {"error": {"kind": "usage", "code": "unauthorized", "message": "bad token"}}
            return self._answer(401, json.dumps(error).encode())
        if self.path.startswith("/v1/sandboxes/broken"):
            return self._answer(502, b"<html>bad gateway</html>", "text/html")
        return self._answer(200, json.dumps({"sandboxes": []}).encode())

    def do_POST(self):
        body = self._body()
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        answer = json.dumps({**_INFO, "id": "s9", "name": json.loads(body).get("name")})
        return self._answer(201, answer.encode())

    def do_PUT(self):
        self.server.seen.append((self.command, self.path, dict(self.headers), self._body()))
        self.send_response(204)
        self.end_headers()


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class StandInServerTest(unittest.TestCase):
    """The transport against a small HTTP server on a unix socket (not agentbox serve: that one
    is exercised by tests/e2e/sdk_python_test.ts)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = f"{self.dir}/s.sock"
        self.server = _UnixServer(self.path, _Handler)
        self.server.seen = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)
        os.rmdir(self.dir)

    def test_token_and_401(self):
        Sandbox.list({"a": "b"}, client=Client(socket_path=self.path, token="right"))
        self.assertEqual(self.server.seen[-1][1], "/v1/sandboxes?label=a%3Db")
        with self.assertRaises(UnauthorizedError) as caught:
            Sandbox.list(client=Client(socket_path=self.path, token="wrong"))
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_a_non_json_error_body(self):
        with self.assertRaises(AgentboxError) as caught:
            Sandbox.connect("broken", client=Client(socket_path=self.path, token="right"))
        self.assertEqual((caught.exception.status, caught.exception.code), (502, "http_502"))

    def test_a_file_object_is_streamed_chunked(self):
        sandbox = Sandbox.__new__(Sandbox)
        sandbox.__init__(Client(socket_path=self.path), _info("s1"))
        data = os.urandom(300_000)
        sandbox.files.write("dir/a b.bin", io.BytesIO(data), mode=0o755)
        method, path, headers, body = self.server.seen[-1]
        self.assertEqual((method, body), ("PUT", data))
        self.assertEqual(headers.get("Transfer-Encoding"), "chunked")
        self.assertEqual(path, "/v1/sandboxes/s1/files?path=dir%2Fa+b.bin&mode=755")

    def test_create_sends_the_spec_in_the_servers_names(self):
        sandbox = Sandbox.create(
            "default",
            name="job-1",
            share="/abs/p",
            net="allowlist",
            allow=["pypi.org"],
            env={"A": "b"},
            cpus=2,
            memory_mb=512,
            timeout_sec=60,
            labels={"team": "web"},
            approval_timeout_sec=0,
            secrets=[Secret("api.example.com", "s3cr3t", scheme="Bearer", guest_env=["KEY"])],
            client=Client(socket_path=self.path),
        )
        self.assertEqual((sandbox.id, sandbox.name), ("s9", "job-1"))
        method, path, headers, body = self.server.seen[-1]
        self.assertEqual((method, path, headers.get("Content-Type")), ("POST", "/v1/sandboxes", "application/json"))
        self.assertEqual(
            json.loads(body),
            {
                "image": "default",
                "name": "job-1",
                "share": "/abs/p",
                "net": "allowlist",
                "allow": ["pypi.org"],
                "env": {"A": "b"},
                "cpus": 2,
                "memoryMb": 512,
                "timeoutSec": 60,
                "labels": {"team": "web"},
                "approvalTimeoutSec": 0,
                "secrets": [
                    {"host": "api.example.com", "value": "s3cr3t", "scheme": "Bearer", "guestEnv": ["KEY"]}
                ],
            },
        )
        self.assertNotIn("s3cr3t", repr(Secret("h", "s3cr3t")))

    def test_a_missing_socket(self):
        with self.assertRaises(UnavailableError) as caught:
            Sandbox.list(client=Client(socket_path=f"{self.dir}/none.sock"))
        self.assertEqual((caught.exception.status, caught.exception.code), (0, "connection_failed"))
        self.assertIn("agentbox serve", str(caught.exception))


_INFO = {
    "id": "s1",
    "name": None,
    "state": "running",
    "labels": {},
    "createdBy": None,
    "project": None,
    "guestAddress": None,
    "changes": "none",
    "startedAt": 0,
    "endedAt": None,
    "expiresAt": None,
}


def _info(id):
    from agentbox import SandboxInfo

    return SandboxInfo.parse({**_INFO, "id": id})


if __name__ == "__main__":
    unittest.main()
