import base64
import json
import unittest

from agentbox import CommandError, ExecResult, NotFoundError
from agentbox.errors import AgentboxError
from agentbox.exec import ExecStream, collect, encode_stdin, parse_exec_line


def line(**event):
    return json.dumps(event).encode()


class ParseExecLineTest(unittest.TestCase):
    def test_each_event(self):
        self.assertEqual(parse_exec_line(line(type="started", pid=7)).pid, 7)
        out = parse_exec_line(line(type="stdout", data=base64.b64encode(b"\x00\xff").decode()))
        self.assertEqual((out.type, out.data), ("stdout", b"\x00\xff"))
        end = parse_exec_line(line(type="exit", code=None, signal="SIGKILL", timedOut=True))
        self.assertEqual((end.exit_code, end.signal, end.timed_out), (None, "SIGKILL", True))

    def test_error_event_raises_its_error(self):
        with self.assertRaises(NotFoundError) as caught:
            parse_exec_line(
                line(type="error", error={"kind": "not_found", "code": "x_gone", "message": "m"})
            )
        self.assertEqual(caught.exception.code, "x_gone")

    def test_malformed_events_are_protocol_errors(self):
        bad = [
            b"not json",
            b"[]",
            line(type="stdout", data="***"),
            line(type="stdout"),
            line(type="started", pid="1"),
            line(type="started", pid=True),
            line(type="exit", code="0", signal=None, timedOut=False),
            line(type="exit", code=0, signal=None),
        ]
        for raw in bad:
            with self.assertRaises(AgentboxError, msg=raw) as caught:
                parse_exec_line(raw)
            self.assertEqual(caught.exception.code, "protocol_error")

    def test_unknown_event_types_pass_through(self):
        self.assertEqual(parse_exec_line(line(type="future", x=1)).type, "future")


class StreamAndResultTest(unittest.TestCase):
    def stream(self, *events):
        closed = []
        lines = iter([line(**e) for e in events])
        return ExecStream(lines, lambda: closed.append(True)), closed

    def test_collect_adds_output_up_and_calls_back(self):
        chunks = []
        run, closed = self.stream(
            {"type": "started", "pid": 3},
            {"type": "stdout", "data": base64.b64encode(b"a").decode()},
            {"type": "stderr", "data": base64.b64encode(b"e").decode()},
            {"type": "stdout", "data": base64.b64encode(b"b").decode()},
            {"type": "exit", "code": 2, "signal": None, "timedOut": False},
        )
        result = collect(["x"], run, on_stdout=chunks.append)
        self.assertEqual((result.stdout, result.stderr, result.exit_code, result.pid), (b"ab", b"e", 2, 3))
        self.assertEqual(chunks, [b"a", b"b"])
        self.assertTrue(closed)
        self.assertEqual(run.exit_code, 2)

    def test_a_stream_that_ends_without_exit_is_an_error(self):
        run, closed = self.stream({"type": "started", "pid": 3})
        with self.assertRaises(AgentboxError) as caught:
            collect(["x"], run)
        self.assertEqual(caught.exception.code, "protocol_error")
        self.assertTrue(closed)

    def test_check(self):
        ok = ExecResult(["true"], 0, None, False, b"", b"")
        self.assertIs(ok.check(), ok)
        failed = ExecResult(["false"], 1, None, False, b"", b"first\nlast line\n")
        with self.assertRaises(CommandError) as caught:
            failed.check()
        self.assertIn("exited with 1: last line", str(caught.exception))
        self.assertIs(caught.exception.result, failed)
        killed = ExecResult(["sleep"], None, "SIGKILL", True, b"", b"")
        with self.assertRaisesRegex(CommandError, "killed by SIGKILL \\(timed out\\)"):
            killed.check()

    def test_encode_stdin(self):
        self.assertEqual(encode_stdin(b"\x00\x01"), "AAE=")
        self.assertEqual(encode_stdin("é"), base64.b64encode("é".encode()).decode())
        self.assertIsNone(encode_stdin(None))
        with self.assertRaises(TypeError):
            encode_stdin(3)


if __name__ == "__main__":
    unittest.main()
