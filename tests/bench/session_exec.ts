/**
 * Warm round trip into a running session: `agentbox exec --session S -- true`, p50 and p95.
 *
 * Three figures from one run, all against the same detached session (`--no-share --net none`):
 * - `cli`: the whole command as a user runs it (a new agentbox process each time: from source
 *   here, so Deno's start and module loading are in it);
 * - `floor`: `agentbox --version` the same way, the process start alone;
 * - `client`: what the command does once started — connect to the control socket, hello, exec
 *   `true`, wait for its exit — in this process.
 *
 * The ssh comparison the issue asks for is not measured: it needs an sshd in a benchmark image
 * and a host-to-guest port forward, neither of which exists yet (docs/benchmarks.md).
 *
 * Run: deno run -A tests/bench/session_exec.ts [CLI_RUNS] [CLIENT_RUNS]   (default 30, 300)
 *
 * @module
 */

import { AgentClient } from "../../host/channel/agent_client.ts";
import { agentbox } from "../helpers.ts";
import { percentile } from "./stats.ts";

const cliRuns = Number(Deno.args[0] ?? 30);
const clientRuns = Number(Deno.args[1] ?? 300);
const root = await Deno.makeTempDir({ prefix: "agentbox-bench-session-" });
const env = {
  XDG_RUNTIME_DIR: `${root}/run`,
  XDG_STATE_HOME: `${root}/state`,
  XDG_CACHE_HOME: `${root}/cache`,
};

async function cli(args: string[]): Promise<string> {
  const out = await agentbox(args, { env }).output();
  if (!out.success) {
    throw new Error(`agentbox ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function timed(runs: number, once: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

function report(label: string, sorted: number[]): void {
  const [p50, p95] = [percentile(sorted, 0.5), percentile(sorted, 0.95)];
  console.log(
    `${label.padEnd(8)} p50 ${p50.toFixed(1).padStart(7)} ms  p95 ${
      p95.toFixed(1).padStart(7)
    } ms` +
      `  (${sorted.length} runs)`,
  );
}

try {
  await cli(["run", "--detach", "--no-share", "--net", "none", "--name", "bench"]);
  const [session] = JSON.parse(await cli(["ps", "--json"])) as { controlSocket: string }[];
  const clientOnce = async () => {
    const socket = await Deno.connect({ transport: "unix", path: session.controlSocket });
    const agent = await AgentClient.connect(socket);
    try {
      const run = agent.exec({ argv: ["true"] });
      await Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
      const result = await run.result;
      if (result.code !== 0) throw new Error(`true exited ${result.code}`);
    } finally {
      agent.close();
    }
  };
  await timed(10, clientOnce); // warm up
  report("client", await timed(clientRuns, clientOnce));
  report("cli", await timed(cliRuns, () => cli(["exec", "--session", "bench", "--", "true"])));
  report("floor", await timed(cliRuns, () => cli(["--version"])));
} finally {
  await cli(["stop", "bench"]).catch((e) => console.error(e.message));
  await cli(["rm", "bench"]).catch((e) => console.error(e.message));
  await Deno.remove(root, { recursive: true });
}
