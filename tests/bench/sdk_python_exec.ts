/**
 * Exec round trip through the Python SDK (sdk/python) against `agentbox exec --session ID --
 * true`, on one sandbox of a real `agentbox serve`, interleaved round by round in one run
 * (tests/bench/sdk_python_exec.py does the timing):
 * - `py unix`: `sandbox.exec(["true"])` over the unix socket (a new connection per request);
 * - `py tcp`: the same over loopback TCP with the bearer token;
 * - `cli`: `agentbox exec --session ID -- true`, a new agentbox process each time, from source.
 *
 * Run: deno run -A tests/bench/sdk_python_exec.ts [ROUNDS] (default 30)
 *
 * @module
 */

import { startServer } from "../e2e/serve_server.ts";
import { REPO } from "../helpers.ts";
import { report } from "./session_bench.ts";

const rounds = Number(Deno.args[0] ?? 30);
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`load average at start: ${load()}`);

await using server = await startServer({ tcp: true });
const cli = [Deno.execPath(), "run", "--allow-all", "--quiet", `--config=${REPO}/deno.json`];
const out = await new Deno.Command("python3", {
  args: [`${REPO}/tests/bench/sdk_python_exec.py`, String(rounds)],
  cwd: server.world.project,
  env: {
    ...server.world.env,
    PYTHONPATH: `${REPO}/sdk/python/src`,
    PYTHONDONTWRITEBYTECODE: "1",
    NO_COLOR: "1",
    AGENTBOX_BENCH_URL: server.url!,
    AGENTBOX_BENCH_TOKEN: server.token!,
    AGENTBOX_BENCH_CLI: JSON.stringify([...cli, `${REPO}/host/main.ts`]),
  },
  stderr: "inherit",
}).output();
if (out.code !== 0) throw new Error(`the Python benchmark failed\n${server.log()}`);
const times = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, number[]>;
console.log(`exec true, ${rounds} interleaved rounds:`);
for (const [way, list] of Object.entries(times)) report(way, list.sort((a, b) => a - b));
console.log(`load average at end: ${load()}`);
