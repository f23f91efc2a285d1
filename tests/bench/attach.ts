/**
 * Keystroke echo through `agentbox attach`, against `agentbox exec --session S -- true`, p50 and
 * p95, in one run against the same detached session (`--no-share --net none`) whose command is
 * `cat` on its terminal with canonical mode off (`stty -icanon`), so each key comes back twice:
 * the terminal's echo, then cat's copy.
 *
 * - `echo`: an attached client (this process: connect, `session.attach`) types one key and waits
 *   for the terminal's echo — client → owner → guest agent → guest terminal → and back. Before
 *   the next key it waits for cat's copy, so nothing is in flight.
 * - `exec`: connect to the control socket, hello, exec `true`, its exit (the same client
 *   round trip as tests/bench/session_exec.ts's `client`).
 * - `exec cli`: `agentbox exec --session bench -- true`, a new process each time.
 *
 * Run: deno run -A tests/bench/attach.ts [KEYS] [EXEC_RUNS] [CLI_RUNS] (default 300, 100, 10)
 *
 * @module
 */

import { AgentClient } from "../../host/channel/agent_client.ts";
import { BenchCli, execTrueInProcess, report, timed } from "./session_bench.ts";

const keys = Number(Deno.args[0] ?? 300);
const execRuns = Number(Deno.args[1] ?? 100);
const cliRuns = Number(Deno.args[2] ?? 10);
const cli = new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-attach-" }));

/** Read `reader` until `count` more copies of `byte` came; returns the ms to the first. */
async function waitFor(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  byte: number,
  count: number,
  start: number,
): Promise<number> {
  let first = -1;
  while (count > 0) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the session's command ended");
    for (const b of value) {
      if (b !== byte) continue;
      if (first < 0) first = performance.now() - start;
      count--;
    }
  }
  return first;
}

try {
  await cli.run([
    "run",
    "--detach",
    "--no-share",
    "--net",
    "none",
    "--name",
    "bench",
    "--",
    "sh",
    "-c",
    "stty -icanon min 1; echo ready; exec cat",
  ]);
  const { controlSocket } = await cli.session("bench");
  const agent = await AgentClient.connect(
    await Deno.connect({ transport: "unix", path: controlSocket }),
  );
  const typing = new TransformStream<Uint8Array, Uint8Array>();
  const writer = typing.writable.getWriter();
  const run = agent.attach({ readOnly: false, stdin: typing.readable });
  run.result.catch(() => {}); // Rejects when this client hangs up (detaches).
  const reader = run.stdout.getReader();
  // The scrollback: up to "ready".
  for (let seen = ""; !seen.includes("ready");) {
    seen += new TextDecoder().decode((await reader.read()).value);
  }
  const echoes: number[] = [];
  for (let i = 0; i < keys + 10; i++) {
    const byte = 0x61 + (i % 26);
    const start = performance.now();
    await writer.write(Uint8Array.of(byte));
    const ms = await waitFor(reader, byte, 2, start);
    if (i >= 10) echoes.push(ms); // the first ten warm up
  }
  report("echo", echoes.sort((a, b) => a - b));
  agent.close();
  const clientOnce = () => execTrueInProcess(controlSocket);
  await timed(5, clientOnce); // warm up
  report("exec", await timed(execRuns, clientOnce));
  report(
    "exec cli",
    await timed(cliRuns, () => cli.run(["exec", "--session", "bench", "--", "true"])),
  );
} finally {
  await cli.remove("bench");
  await Deno.remove(cli.root, { recursive: true });
}
