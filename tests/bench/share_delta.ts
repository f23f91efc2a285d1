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
 * With SHARE_BENCH_CHECKOUT=DIR, a fourth case: the same full re-pack by another checkout's
 * agentbox (e.g. `git worktree add /tmp/base e8dbd5f^`, main before delta shares and the faster
 * walk: the re-pack as issue 21 was filed), in a child process of its own (`deno run --config
 * DIR/deno.json`) that times the set-up itself; the target stays the ratio against this
 * checkout's re-pack, the other is shown beside it.
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
const checkout = Deno.env.get("SHARE_BENCH_CHECKOUT");

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

/** The set-up as another checkout makes it (a full re-pack into an empty cache), in ms. */
async function setUpElsewhere(dir: string, cacheDir: string, session: string): Promise<number> {
  const child = `${work}/other_checkout_setup.ts`;
  await Deno.writeTextFile(
    child,
    `import { startWorkspaceSession } from ${
      JSON.stringify(`${dir}/host/session/workspace_session.ts`)
    };
const [tree, session, cacheDir] = Deno.args;
// Warm up on a small tree first, as the bench's own process is warm.
await Deno.mkdir(\`\${session}-warm/tree\`, { recursive: true });
for (let i = 0; i < 100; i++) await Deno.writeTextFile(\`\${session}-warm/tree/\${i}\`, "x");
await startWorkspaceSession(\`\${session}-warm/tree\`, \`\${session}-warm/s\`, {
  cacheDir: \`\${session}-warm/cache\`,
  upperBytes: ${upperBytes},
});
await Deno.remove(\`\${session}-warm\`, { recursive: true });
const start = performance.now();
await startWorkspaceSession(tree, session, { cacheDir, upperBytes: ${upperBytes} });
console.log(performance.now() - start);
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${dir}/deno.json`,
      child,
      tree,
      `${work}/${session}`,
      cacheDir,
    ],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the set-up by ${dir} failed: exit ${out.code}`);
  await Deno.remove(`${work}/${session}`, { recursive: true });
  await Deno.remove(cacheDir, { recursive: true });
  return Number(new TextDecoder().decode(out.stdout).trim());
}

console.error(`building a ${FILES}-file tree in ${tree}`);
makeFileTree(tree, FILES);
let packed = `${work}/cache-0`;
await setUp(packed, "prime");

const none: number[] = [];
const delta: number[] = [];
const full: number[] = [];
const filed: number[] = [];
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
  if (checkout) {
    filed.push(await setUpElsewhere(checkout, `${work}/filed-cache-${run}`, `filed-${run}`));
  }
  none.push(noneMs);
  delta.push(deltaMs);
  full.push(fullMs);
  await Deno.remove(packed, { recursive: true });
  await Deno.remove(chained, { recursive: true });
  packed = fresh;
  console.error(
    `run ${run}: no change ${noneMs.toFixed(0)} ms, 10-file change ${deltaMs.toFixed(0)} ms, ` +
      `full re-pack ${fullMs.toFixed(0)} ms` +
      (checkout ? `, full re-pack by ${checkout} ${filed[filed.length - 1].toFixed(0)} ms` : ""),
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
if (checkout) {
  const o = median(filed);
  console.log(`| share set-up, full re-pack by ${checkout} | ${o.toFixed(0)} ms | ${fmt(filed)} |
| ratio change / that re-pack | ${(d / o).toFixed(2)} | (beside the target) |`);
}
await Deno.remove(work, { recursive: true });
