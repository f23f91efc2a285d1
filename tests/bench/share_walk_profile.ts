/**
 * Where the milliseconds of a share set-up go on a 100,000-file tree (issue 21, goal 3): each step
 * of `prepareShare` timed on its own, interleaved over the runs, medians. The steps are the ones
 * share.ts runs, called one by one (with a 10-file change between the walks a delta compares):
 *
 * - `find` alone, its output thrown away (the floor of any walk), and without `lstat` (`%P` only);
 * - the walk (`walkTree`: find read as a stream, hashed, split, names checked, records kept);
 * - the cache-hit step (the chain read, the baseline hard-linked into the session);
 * - writing the session's baseline file, reading the topmost layer's, comparing them;
 * - the upper disk (`mkfs.ext4`), the whole set-up for no change and for a 10-file change, and
 *   a full pack (`mkfs.erofs` of the tree) for scale.
 *
 * Run: deno run -A tests/bench/share_walk_profile.ts [RUNS]   (default 7)
 *
 * @module
 */

import { readBaselineRecords, walkTree, writeWalk } from "../../host/workspace/baseline.ts";
import { planDelta, readChain, topBaselinePath } from "../../host/workspace/share_layers.ts";
import { prepareShare, shareCacheKey } from "../../host/workspace/share.ts";
import { makeFileTree } from "./file_tree.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-walk-" });
const tree = `${work}/tree`;
const upperBytes = 64 * 1024 ** 2;
const times = new Map<string, number[]>();

async function time<T>(step: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  times.set(step, [...times.get(step) ?? [], performance.now() - start]);
  return result;
}

async function command(name: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(name, { args, stdout: "null", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${name} ${args.join(" ")}: exit ${out.code}`);
}

async function share(session: string, build: string): Promise<void> {
  const cacheDir = `${work}/cache`;
  const prepared = await prepareShare(tree, `${work}/${session}`, { cacheDir, upperBytes });
  if (prepared.build !== build) throw new Error(`${session}: ${prepared.build}, not ${build}`);
  await Deno.remove(`${work}/${session}`, { recursive: true });
}

console.error(`building a 100000-file tree in ${tree}`);
makeFileTree(tree, 100_000);
await share("prime", "packed");
const cacheDir = `${work}/cache/${shareCacheKey(await Deno.realPath(tree))}`;
for (let run = 1; run <= runs; run++) {
  await time(
    "find, output to /dev/null",
    () => command("find", [tree, "-mindepth", "1", "-printf", "%y %m %s %T@ %i %P\\0"]),
  );
  await time(
    "find without lstat (%P only)",
    () => command("find", [tree, "-mindepth", "1", "-printf", "%P\\0"]),
  );
  const before = await time("walk (walkTree)", () => walkTree(tree));
  await time("cache hit: chain read + baseline linked", async () => {
    const chain = await readChain(cacheDir);
    await Deno.link(topBaselinePath(cacheDir, chain!), `${work}/linked.json`);
    await Deno.remove(`${work}/linked.json`);
  });
  await time("write the session's baseline", () => writeWalk(`${work}/baseline.json`, before));
  await time("upper disk (mkfs.ext4, 64 MiB)", async () => {
    await Deno.writeFile(`${work}/upper.ext4`, new Uint8Array());
    await Deno.truncate(`${work}/upper.ext4`, upperBytes);
    await command("mkfs.ext4", ["-q", "-F", "-m", "0", `${work}/upper.ext4`]);
  });
  await time("set-up, no change (prepareShare)", () => share(`none-${run}`, "cached"));
  const d = (k: number) => `${tree}/src/d${(run * 13 + k * 7) % 100}`;
  for (let k = 0; k < 10; k++) await Deno.writeTextFile(`${d(k)}/f${k}.txt`, `edit ${run}\n`);
  const after = await walkTree(tree);
  const top = await time("read the topmost layer's baseline", async () => {
    const chain = await readChain(cacheDir);
    return await readBaselineRecords(topBaselinePath(cacheDir, chain!));
  });
  const plan = await time(
    "compare (planDelta)",
    () => Promise.resolve(planDelta(top!.records, after.records)),
  );
  if (plan?.changed.length !== 10) throw new Error(`expected 10 changes: ${plan?.changed}`);
  await time("set-up, 10-file change (prepareShare)", () => share(`delta-${run}`, "delta"));
  await time(
    "full pack (mkfs.erofs of the tree)",
    () => command("mkfs.erofs", ["--quiet", "-x-1", `${work}/full.erofs`, tree]),
  );
  // Start each run from one full image, so every delta is one layer (as share_delta.ts does).
  await Deno.remove(`${work}/cache`, { recursive: true });
  await share(`prime-${run}`, "packed");
  console.error(`run ${run} done`);
}
console.log("| step | median | runs |\n| --- | --- | --- |");
for (const [step, values] of times) {
  const runsText = values.map((v) => v.toFixed(0)).join(", ");
  console.log(`| ${step} | ${median(values).toFixed(0)} ms | ${runsText} |`);
}
await Deno.remove(work, { recursive: true });
