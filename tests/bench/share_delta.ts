/**
 * Shares that cost what changed (issue 21, goal 3), on a 100,000-file tree: share set-up
 * (`startWorkspaceSession`: baseline, lower disk, upper disk) in three cases, interleaved in each
 * run:
 *
 * - **no change**: the tree as the cached lower disk has it (a cache hit);
 * - **10-file change**: 3 edits, 3 new files (one in a new directory), 2 deletions, a chmod, a
 *   rewrite since the cached image was packed — a delta layer is added to it;
 * - **full re-pack**: the same changed tree with no cache (what every change cost before deltas).
 *
 * Each run changes other files than the last, over a cache holding the previous run's full image
 * (copied before the run, untimed), so every delta is one layer over a fresh image; the order of
 * the delta and the full re-pack alternates between runs.
 *
 * Run: deno run -A tests/bench/share_delta.ts [RUNS]   (default 7; medians reported)
 *
 * @module
 */

import { startWorkspaceSession } from "../../host/session/workspace_session.ts";
import { makeFileTree } from "./file_tree.ts";
import { median } from "./stats.ts";

const FILES = 100_000;
const runs = Number(Deno.args[0] ?? 7);
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-delta-" });
const tree = `${work}/tree`;
const upperBytes = 64 * 1024 ** 2;

/** Ten changes touching other files in each run `r`. */
function changes(r: number): string {
  const d = (k: number) => `src/d${(r * 11 + k * 7) % 100}`;
  return [
    `echo edit >> ${d(1)}/f1.txt`,
    `echo edit >> ${d(2)}/f10.txt`,
    `echo edit >> ${d(3)}/f999.txt`,
    `echo new > ${d(4)}/new-${r}-1.txt`,
    `echo new > ${d(5)}/new-${r}-2.txt`,
    `mkdir -p src/new-${r} && echo new > src/new-${r}/new3.txt`,
    `rm ${d(6)}/f${r + 4}.txt`,
    `rm ${d(7)}/f${r + 5}.txt`,
    `chmod +x ${d(8)}/f6.txt`,
    `echo edit > ${d(9)}/f7.txt`,
  ].join(" && ");
}

async function sh(cwd: string, script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${script}: exit ${out.code}`);
}

async function setUp(cacheDir: string, session: string): Promise<[number, string | undefined]> {
  const start = performance.now();
  const ws = await startWorkspaceSession(tree, `${work}/${session}`, { cacheDir, upperBytes });
  const ms = performance.now() - start;
  await Deno.remove(`${work}/${session}`, { recursive: true });
  return [ms, ws.share.build];
}

console.error(`building a ${FILES}-file tree in ${tree}`);
makeFileTree(tree, FILES);
let packed = `${work}/cache-0`;
await setUp(packed, "prime");

const none: number[] = [];
const delta: number[] = [];
const full: number[] = [];
for (let run = 1; run <= runs; run++) {
  const chained = `${work}/chained-${run}`;
  await sh(work, `cp -a ${packed} ${chained}`);
  const [noneMs, noneBuild] = await setUp(chained, `none-${run}`);
  if (noneBuild !== "cached") throw new Error(`no-change set-up was ${noneBuild}`);
  await sh(tree, changes(run));
  const fresh = `${work}/cache-${run}`;
  let deltaMs = 0;
  let fullMs = 0;
  const timeDelta = async () => {
    const [ms, build] = await setUp(chained, `delta-${run}`);
    if (build !== "delta") throw new Error(`the changed tree was ${build}, not a delta`);
    deltaMs = ms;
  };
  const timeFull = async () => {
    const [ms, build] = await setUp(fresh, `full-${run}`);
    if (build !== "packed") throw new Error(`the full re-pack was ${build}`);
    fullMs = ms;
  };
  if (run % 2) {
    await timeDelta();
    await timeFull();
  } else {
    await timeFull();
    await timeDelta();
  }
  none.push(noneMs);
  delta.push(deltaMs);
  full.push(fullMs);
  await Deno.remove(packed, { recursive: true });
  await Deno.remove(chained, { recursive: true });
  packed = fresh;
  console.error(
    `run ${run}: no change ${noneMs.toFixed(0)} ms, 10-file change ${deltaMs.toFixed(0)} ms, ` +
      `full re-pack ${fullMs.toFixed(0)} ms`,
  );
}

const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
const [n, d, f] = [median(none), median(delta), median(full)];
console.log(`| measure | median | runs |
| --- | --- | --- |
| share set-up, no change (cache hit) | ${n.toFixed(0)} ms | ${fmt(none)} |
| share set-up, 10-file change (delta layer) | ${d.toFixed(0)} ms | ${fmt(delta)} |
| share set-up, full re-pack (no cache) | ${f.toFixed(0)} ms | ${fmt(full)} |
| ratio change / no change | ${(d / n).toFixed(2)} | target ≤ 1.5 |
| ratio change / full re-pack | ${(d / f).toFixed(2)} | target ≤ 0.3 |`);
await Deno.remove(work, { recursive: true });
