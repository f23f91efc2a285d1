/**
 * Fast start: wall time of `agentbox exec -- true` restored from the image's template snapshot
 * against the cold path (`AGENTBOX_NO_TEMPLATE=1`), interleaved in the same run.
 *
 * Run: deno run -A tests/bench/template_exec.ts [RUNS]   (default 7 runs of each)
 *
 * The template is made (if it is missing) by a warm-up exec before the timed runs.
 *
 * @module
 */

import { NO_TEMPLATE_ENV } from "../../host/vm/template.ts";
import { agentbox } from "../helpers.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);

async function execOnce(env: Record<string, string>): Promise<number> {
  const start = performance.now();
  const out = await agentbox(["exec", "--", "true"], { env }).output();
  if (!out.success) throw new Error(`exec failed: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - start;
}

const cold = { [NO_TEMPLATE_ENV]: "1" };
const template = {};
await execOnce(template); // Makes the template if needed, and warms Deno's module cache.
const coldRuns: number[] = [];
const templateRuns: number[] = [];
for (let i = 0; i < runs; i++) {
  coldRuns.push(await execOnce(cold));
  templateRuns.push(await execOnce(template));
}

const c = median(coldRuns);
const t = median(templateRuns);
const list = (values: number[]) => values.map((x) => x.toFixed(0)).join(", ");
console.log(`runs: ${runs} each (interleaved)`);
console.log(`cold (${NO_TEMPLATE_ENV}=1): median ${c.toFixed(0)} ms  [${list(coldRuns)}]`);
console.log(`from the template:         median ${t.toFixed(0)} ms  [${list(templateRuns)}]`);
console.log(`ratio: ${(t / c).toFixed(2)} (target <= 0.35)`);
