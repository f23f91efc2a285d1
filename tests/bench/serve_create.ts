/**
 * Sandboxes created per second through `agentbox serve`, with 8 clients at once against 1.
 *
 * One real server (tests/e2e/serve_server.ts: private state, the default data directory's images)
 * and two phases in the same run:
 * - `1 client`: ROUNDS sandboxes one after another (create → exec `true` → delete);
 * - `8 clients`: 8 clients each doing ROUNDS of the same at once.
 * Each phase reports sandboxes per second (completed cycles / wall time) and the median create
 * latency. On a 2-core TCG machine the boots compete for the CPU: the ratio of the two rates is
 * what the concurrency buys.
 *
 * Run: deno run -A tests/bench/serve_create.ts [ROUNDS] (default 3)
 *
 * @module
 */

import { startServer } from "../e2e/serve_server.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 3);
const clients = 8;
await using server = await startServer({ args: ["--max-sandboxes", String(clients + 1)] });

const post = (path: string, body: unknown) =>
  server.fetchSocket(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** One cycle; returns the create latency in ms. */
async function cycle(): Promise<number> {
  const started = performance.now();
  const created = await post("/v1/sandboxes", { net: "none" });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const createMs = performance.now() - started;
  const { id } = await created.json();
  const exec = await post(`/v1/sandboxes/${id}/exec`, { argv: ["true"] });
  const events = await exec.text();
  if (!events.includes('"code":0')) throw new Error(`exec: ${events}`);
  const deleted = await server.fetchSocket(`/v1/sandboxes/${id}`, { method: "DELETE" });
  if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`);
  return createMs;
}

async function phase(name: string, parallel: number): Promise<void> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = 0; i < rounds; i++) latencies.push(await cycle());
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const rate = (parallel * rounds) / seconds;
  console.log(
    `${name}: ${parallel * rounds} sandboxes in ${seconds.toFixed(1)} s = ` +
      `${rate.toFixed(3)}/s, create median ${(median(latencies) / 1000).toFixed(2)} s`,
  );
}

await cycle(); // warm up: the template snapshot of this shape
await phase("1 client", 1);
await phase(`${clients} clients`, clients);
console.log(`load: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
