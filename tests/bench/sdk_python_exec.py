"""Timed by tests/bench/sdk_python_exec.ts: `exec(["true"])` through the Python SDK over the unix
socket and over loopback TCP with the token, and `agentbox exec --session ID -- true` (a new
process each time), interleaved round by round so each sees the same load. Prints one JSON object
{way: [milliseconds, ...]} on stdout.

Environment: AGENTBOX_BENCH_URL, AGENTBOX_BENCH_TOKEN, AGENTBOX_BENCH_CLI (the agentbox command
line, JSON), and the XDG variables of the server's world.
"""

import json
import os
import subprocess
import sys
import time

from agentbox import Client, Sandbox

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
cli = json.loads(os.environ["AGENTBOX_BENCH_CLI"])
remote = Client(url=os.environ["AGENTBOX_BENCH_URL"], token=os.environ["AGENTBOX_BENCH_TOKEN"])

start = time.perf_counter()
with Sandbox.create(net="none", name="py-bench") as sb:
    print(f"create: {(time.perf_counter() - start) * 1000:.0f} ms", file=sys.stderr)
    via_tcp = Sandbox.connect(sb.id, client=remote)

    def cli_exec():
        subprocess.run(cli + ["exec", "--session", sb.id, "--", "true"], check=True)

    ways = {
        "py unix": lambda: sb.exec(["true"], check=True),
        "py tcp": lambda: via_tcp.exec(["true"], check=True),
        "cli": cli_exec,
    }
    times = {way: [] for way in ways}
    for once in ways.values():
        for _ in range(3):
            once()  # warm up
    for _ in range(rounds):
        for way, once in ways.items():
            t0 = time.perf_counter()
            once()
            times[way].append((time.perf_counter() - t0) * 1000)
print(json.dumps(times))
