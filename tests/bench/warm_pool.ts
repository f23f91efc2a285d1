/**
 * Warm pool: wall time of `agentbox exec -- true` (the default network backend: the tap network as
 * root, the user network otherwise) handed to a running `agentbox serve --pool 2` (a warm VM each
 * time: the pool is refilled, untimed, before every run), against the same command with no server (`AGENTBOX_NO_SERVER=1`: the CLI restores the
 * template itself) and `agentbox exec --session S -- true` into a running session, interleaved
 * in one run. Then, in this process, where a taken warm VM's time goes: `cont` and the agent's new
 * hello, the first exec, the second exec (the warm-up ran before the pause: docs/serve.md).
 *
 * Run: deno run -A tests/bench/warm_pool.ts [RUNS]   (default 7 runs of each)
 *
 * The server runs in a private world (tests/e2e/serve_server.ts): its first fill makes the
 * template in that world's cache, before the timed runs.
 *
 * @module
 */

import { startServer, type TestServer } from "../e2e/serve_server.ts";
import { openContext } from "../../host/api/context.ts";
import { WarmPool } from "../../host/api/warm_pool.ts";
import { AGENT_DEADLINES } from "../../host/channel/agent_client.ts";
import type { RunningVm } from "../../host/vm/running_vm.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const list = (values: number[]) => values.map((x) => x.toFixed(0)).join(", ");

async function poolReady(server: TestServer, want: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const stats = await (await server.fetchSocket("/v1/pool")).json();
    if (stats.ready >= want) return;
    if (Date.now() > deadline) throw new Error(`pool not ready: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function timed(server: TestServer, args: string[], env: Record<string, string> = {}) {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../host/main.ts", import.meta.url).pathname, ...args],
    cwd: server.world.project,
    env: { ...server.world.env, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  if (!out.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { ms, stderr: new TextDecoder().decode(out.stderr) };
}

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`load average before: ${load()}`);

{
  await using server = await startServer({ args: ["--pool", "2"] });
  await poolReady(server, 2);
  const session = await server.world.cli(
    ["run", "--detach", "--name", "bench"],
  );
  if (session.code !== 0) throw new Error(`run --detach failed: ${session.stderr}`);
  const pooled: number[] = [];
  const alone: number[] = [];
  const inSession: number[] = [];
  // Warm-ups: Deno's module cache, the template of the CLI's own path.
  await timed(server, ["exec", "--", "true"], { AGENTBOX_NO_SERVER: "1" });
  await timed(server, ["exec", "--session", "bench", "--", "true"]);
  for (let i = 0; i < runs; i++) {
    await poolReady(server, 2);
    const p = await timed(server, ["-v", "exec", "--", "true"]);
    if (!p.stderr.includes("(a warm VM)")) throw new Error(`not served warm: ${p.stderr}`);
    pooled.push(p.ms);
    await poolReady(server, 2);
    alone.push(
      (await timed(server, ["exec", "--", "true"], {
        AGENTBOX_NO_SERVER: "1",
      })).ms,
    );
    await poolReady(server, 2);
    inSession.push((await timed(server, ["exec", "--session", "bench", "--", "true"])).ms);
  }
  await server.world.cli(["stop", "bench"]);
  const p = median(pooled);
  const a = median(alone);
  const s = median(inSession);
  console.log(`runs: ${runs} each (interleaved)`);
  console.log(
    `exec -- true, warm pool (serve --pool 2): median ${p.toFixed(0)} ms  [${list(pooled)}]`,
  );
  console.log(
    `exec -- true, no server:                  median ${a.toFixed(0)} ms  [${list(alone)}]`,
  );
  console.log(
    `exec --session S -- true:                 median ${s.toFixed(0)} ms  [${list(inSession)}]`,
  );
  console.log(`warm / session: ${(p / s).toFixed(2)} (target <= 1.5); warm: target <= 300 ms`);
  console.log(`warm / no server: ${(p / a).toFixed(2)}`);
}

// Where a warm VM's time goes, in this process (the user's own XDG directories).
{
  using ctx = openContext();
  const pool = new WarmPool(ctx, { size: 1, backend: "user" });
  pool.start();
  const resume: number[] = [];
  const first: number[] = [];
  const second: number[] = [];
  const exec = async (vm: RunningVm) => {
    const start = performance.now();
    const run = vm.agent.exec({ argv: ["true"], deadlineMs: AGENT_DEADLINES.hostCommandMs });
    await Promise.all([run.stdout.cancel(), run.stderr.cancel(), run.result]);
    return performance.now() - start;
  };
  try {
    for (let i = 0; i < runs; i++) {
      let warm;
      const deadline = Date.now() + 600_000;
      while (
        !(warm = await pool.claim({ image: "default", cpus: 2, memoryMb: 1024, backend: "user" }))
      ) {
        if (Date.now() > deadline) throw new Error("the in-process pool never filled");
        await new Promise((r) => setTimeout(r, 200));
      }
      const start = performance.now();
      const vm = await warm.resume({});
      resume.push(performance.now() - start);
      first.push(await exec(vm));
      second.push(await exec(vm));
      await vm.stop();
      await warm.link.close();
    }
  } finally {
    await pool.close();
  }
  console.log(
    `warm VM, cont + new hello:      median ${median(resume).toFixed(0)} ms  [${list(resume)}]`,
  );
  console.log(
    `first exec of true:             median ${median(first).toFixed(0)} ms  [${list(first)}]`,
  );
  console.log(
    `second exec of true:            median ${median(second).toFixed(0)} ms  [${list(second)}]`,
  );
}
console.log(`load average after: ${load()}`);
