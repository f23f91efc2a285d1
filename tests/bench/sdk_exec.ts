/**
 * Exec round trip through the TypeScript SDK (sdk/ts) against the other ways into the same
 * sandbox, interleaved round by round in one run so that each sees the same load:
 * - `sdk unix`: `sandbox.exec(["true"])` over the server's unix socket (kept-alive connection);
 * - `sdk tcp`: the same over the loopback TCP address with the bearer token;
 * - `cli`: `agentbox exec --session ID -- true` (a new agentbox process each time, from source);
 * - `api`: the in-process core call the server makes — `connectToSession` + `agent.exec` —
 *   without HTTP.
 *
 * With CREATE (any value but 0), also sandboxes created per second through the API by 8
 * concurrent SDK clients, each creating one (the server allows 8 live sandboxes per client name,
 * and every unix-socket client is the same local user), then deleted.
 *
 * Run: deno run -A tests/bench/sdk_exec.ts [ROUNDS] [CREATE] (default 30, 0)
 *
 * @module
 */

import { connectToSession } from "../../host/api/session_connect.ts";
import { Client, Sandbox } from "../../sdk/ts/mod.ts";
import { startServer } from "../e2e/serve_server.ts";
import { report, timeOnce } from "./session_bench.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 30);
const create = (Deno.args[1] ?? "0") !== "0";

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`load average at start: ${load()}`);

await using server = await startServer({ tcp: true });
// The in-process call reads the session database of the server's world.
for (const [name, value] of Object.entries(server.world.env)) Deno.env.set(name, value);
const local = new Client({ socketPath: server.socket });
const remote = new Client({ url: server.url!, token: server.token! });
try {
  const bootStart = performance.now();
  const sandbox = await Sandbox.create({ client: local, net: "none", name: "bench" });
  console.log(`create (boot from the template): ${(performance.now() - bootStart).toFixed(0)} ms`);
  const viaTcp = await Sandbox.connect(sandbox.id, { client: remote });

  const ways: Record<string, () => Promise<void>> = {
    "sdk unix": async () => check((await sandbox.exec(["true"])).exitCode),
    "sdk tcp": async () => check((await viaTcp.exec(["true"])).exitCode),
    "cli": async () => {
      const r = await server.world.cli(["exec", "--session", sandbox.id, "--", "true"]);
      if (r.code !== 0) throw new Error(`agentbox exec: ${r.stderr}`);
    },
    "api": async () => {
      const connection = await connectToSession(sandbox.id);
      try {
        const run = connection.agent.exec({ argv: ["true"] });
        await Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
        check((await run.result).code);
      } finally {
        connection.agent.close();
      }
    },
  };
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(ways).map((way) => [way, []]),
  );
  for (const once of Object.values(ways)) for (let i = 0; i < 3; i++) await once(); // warm up
  for (let round = 0; round < rounds; round++) {
    for (const [way, once] of Object.entries(ways)) times[way].push(await timeOnce(once));
  }
  console.log(`exec true, ${rounds} interleaved rounds:`);
  for (const [way, list] of Object.entries(times)) report(way, list.sort((a, b) => a - b));
  await sandbox.delete();

  if (create) {
    const clients = Array.from({ length: 8 }, () => new Client({ socketPath: server.socket }));
    const latencies: number[] = [];
    const start = performance.now();
    const made = await Promise.all(clients.map(async (client) => {
      const t0 = performance.now();
      const s = await Sandbox.create({ client, net: "none" });
      latencies.push(performance.now() - t0);
      return s;
    }));
    const wall = (performance.now() - start) / 1000;
    console.log(
      `8 concurrent clients created ${made.length} sandboxes in ${wall.toFixed(1)} s: ` +
        `${(made.length / wall).toFixed(2)} sandboxes/s, median create ${
          (median(latencies) / 1000).toFixed(1)
        } s`,
    );
    await Promise.all(made.map((s) => s.delete()));
    for (const client of clients) client.close();
  }
} finally {
  local.close();
  remote.close();
  console.log(`load average at end: ${load()}`);
}

function check(code: number | null): void {
  if (code !== 0) throw new Error(`true exited ${code}`);
}
