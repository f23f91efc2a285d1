/**
 * E2B lifecycle (issue 18): wall time of `Sandbox.create()` → first `commands.run('true')` →
 * `kill()` through the real `e2b` SDK against a real `agentbox serve --e2b`, and, in the same run
 * and interleaved, the same sequence through agentbox's CLI (`run --detach`, `exec --session --
 * true`, `rm -f`). The comparison the issue asks for is against agentbox's own TypeScript SDK,
 * which does not exist yet: the CLI stands in for it (and pays a Deno start per step, which an SDK
 * would not).
 *
 * Run: deno run -A tests/bench/e2b_lifecycle.ts [RUNS]   (default 5 of each, interleaved)
 *
 * @module
 */

import { Sandbox } from "e2b";
import { startE2bServe } from "../e2e/e2b_serve.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 5);
await using serve = await startE2bServe();
const s = serve.world;
serve.exportForSdk();

async function e2bOnce(): Promise<number> {
  const start = performance.now();
  const sbx = await Sandbox.create();
  await sbx.commands.run("true");
  await sbx.kill();
  return performance.now() - start;
}

async function cliOnce(i: number): Promise<number> {
  const start = performance.now();
  const name = `bench-${i}`;
  for (
    const args of [
      ["run", "--detach", "--name", name],
      ["exec", "--session", name, "--", "true"],
      ["rm", "-f", name],
    ]
  ) {
    const r = await s.cli(args);
    if (r.code !== 0) throw new Error(`agentbox ${args.join(" ")}: ${r.stderr}`);
  }
  return performance.now() - start;
}

await e2bOnce(); // warm the SDK's and the server's first requests
await cliOnce(-1);
const e2b: number[] = [];
const cli: number[] = [];
for (let i = 0; i < runs; i++) {
  e2b.push(await e2bOnce());
  cli.push(await cliOnce(i));
}
const show = (xs: number[]) =>
  `median ${median(xs).toFixed(0)} ms  [${xs.map((x) => x.toFixed(0)).join(", ")}]`;
console.log(
  `runs: ${runs} each (interleaved); load: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`,
);
console.log(`E2B SDK   create → run('true') → kill:       ${show(e2b)}`);
console.log(`agentbox  run -d → exec --session true → rm -f: ${show(cli)}`);
