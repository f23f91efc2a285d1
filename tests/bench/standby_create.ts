/**
 * Standby session owners: a sandbox created through `agentbox serve` (what an SDK's create does)
 * with `--pool-sessions 1` (it starts on a standby owner's warm VM; the standby is replaced,
 * untimed, before each run) against a server without standby owners, interleaved in one run. Each
 * cycle: `POST /v1/sandboxes` (default network), exec `true`, delete. Reported: the create
 * latency, create + first exec, and the first exec alone; medians.
 *
 * Run: deno run -A tests/bench/standby_create.ts [RUNS]   (default 7)
 *
 * @module
 */

import { startServer, type TestServer } from "../e2e/serve_server.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const list = (values: number[]) => values.map((x) => x.toFixed(0)).join(", ");
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

async function standbyReady(server: TestServer): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const stats = await (await server.fetchSocket("/v1/pool")).json();
    if (stats.sessions.ready >= 1) return;
    if (Date.now() > deadline) throw new Error(`no standby owner: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const post = (server: TestServer, path: string, body: unknown) =>
  server.fetchSocket(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** One cycle: [create ms, first exec ms]. */
async function cycle(server: TestServer): Promise<[number, number]> {
  const started = performance.now();
  const created = await post(server, "/v1/sandboxes", {});
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const createMs = performance.now() - started;
  const { id } = await created.json();
  const execStart = performance.now();
  const exec = await post(server, `/v1/sandboxes/${id}/exec`, { argv: ["true"] });
  const events = await exec.text();
  if (!events.includes('"code":0')) throw new Error(`exec: ${events}`);
  const execMs = performance.now() - execStart;
  const deleted = await server.fetchSocket(`/v1/sandboxes/${id}?force=true`, {
    method: "DELETE",
  });
  if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`);
  return [createMs, execMs];
}

console.log(`load average before: ${load()}`);
await using standing = await startServer({ args: ["--pool-sessions", "1"] });
await using plain = await startServer({});
await standbyReady(standing);
await cycle(plain); // the template of the plain server's world, untimed
const results = { standby: [] as number[][], plain: [] as number[][] };
for (let i = 0; i < runs; i++) {
  await standbyReady(standing);
  results.standby.push(await cycle(standing));
  results.plain.push(await cycle(plain));
}
const taken = (await (await standing.fetchSocket("/v1/pool")).json()).sessions.taken;
if (taken !== runs) throw new Error(`only ${taken} of ${runs} creates took a standby owner`);
for (const [name, cycles] of Object.entries(results)) {
  const create = cycles.map(([c]) => c);
  const exec = cycles.map(([, e]) => e);
  const both = cycles.map(([c, e]) => c + e);
  console.log(
    `${name.padEnd(8)} create median ${median(create).toFixed(0)} ms [${list(create)}]; ` +
      `first exec ${median(exec).toFixed(0)} ms [${list(exec)}]; ` +
      `create + exec ${median(both).toFixed(0)} ms`,
  );
}
const ratio = median(results.standby.map(([c, e]) => c + e)) /
  median(results.plain.map(([c, e]) => c + e));
console.log(`create + exec, standby / plain: ${ratio.toFixed(2)}`);
console.log(`load average after: ${load()}`);
