/**
 * A warm VM taking a share: wall time of a one-shot sandbox with a shared directory that runs
 * `true` and collects its (empty) changes — `runSandbox`, what `agentbox exec --share DIR -- true`
 * and the server's one-shot run — on a warm VM (restored, warmed and paused beforehand, untimed; its
 * placeholder disks are pointed at the share's when it is taken: host/vm/qemu/disk_swap.ts)
 * against the same sandbox restoring the template itself, interleaved in one run, in this process
 * (the user network; the user's own XDG directories). Also each run's `bootMs` (start →
 * sandbox running, the share mounted).
 *
 * Run: deno run -A tests/bench/warm_share.ts [RUNS]   (default 7 runs of each)
 *
 * @module
 */

import { openContext } from "../../host/api/context.ts";
import { runSandbox, type Sandbox } from "../../host/api/sandbox.ts";
import { parseSandboxSpec } from "../../host/api/sandbox_spec.ts";
import { prepareWarmVm, singleWarmSource } from "../../host/api/warm_pool.ts";
import { findImage } from "../../image/store.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const list = (values: number[]) => values.map((x) => x.toFixed(0)).join(", ");
const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`load average before: ${load()}`);

const project = await Deno.makeTempDir({ prefix: "agentbox-bench-warmshare-" });
try {
  await new Deno.Command("sh", {
    args: ["-c", "mkdir -p src && for i in $(seq 100); do echo $i > src/f$i.txt; done"],
    cwd: project,
  }).output();
  using ctx = openContext();
  const image = await findImage("default");
  const spec = parseSandboxSpec(
    { argv: ["true"], projectDir: project, share: project, netBackend: "user" },
    "the bench",
  );
  const command = async (box: Sandbox) => {
    const handle = box.exec(box.command());
    await Promise.all([handle.stdout.cancel(), handle.stderr.cancel()]);
    return await handle.result;
  };
  const once = async (warm: boolean) => {
    const entry = warm ? await prepareWarmVm(ctx, image, "user") : undefined;
    const source = entry && singleWarmSource(entry);
    try {
      const start = performance.now();
      const run = await runSandbox(ctx, spec, async (box) => {
        if (entry && box.vm !== entry.vm) throw new Error("the warm VM was not taken");
        return await command(box);
      }, { warm: source });
      if (run.result.code !== 0) throw new Error(`true exited ${run.result.code}`);
      return { ms: performance.now() - start, bootMs: run.timings.bootMs };
    } finally {
      await source?.release();
      await entry?.vm.stop();
    }
  };
  // Warm-ups: the share's lower image, the template, Deno's compiled code.
  await once(false);
  await once(true);
  const pooled: number[] = [];
  const pooledBoot: number[] = [];
  const alone: number[] = [];
  const aloneBoot: number[] = [];
  for (let i = 0; i < runs; i++) {
    const p = await once(true);
    pooled.push(p.ms);
    pooledBoot.push(p.bootMs);
    const a = await once(false);
    alone.push(a.ms);
    aloneBoot.push(a.bootMs);
  }
  console.log(`runs: ${runs} each (interleaved)`);
  console.log(
    `share + true, warm VM:  median ${median(pooled).toFixed(0)} ms  [${list(pooled)}]; ` +
      `bootMs ${median(pooledBoot).toFixed(0)} [${list(pooledBoot)}]`,
  );
  console.log(
    `share + true, template: median ${median(alone).toFixed(0)} ms  [${list(alone)}]; ` +
      `bootMs ${median(aloneBoot).toFixed(0)} [${list(aloneBoot)}]`,
  );
  console.log(`warm / template: ${(median(pooled) / median(alone)).toFixed(2)}`);
} finally {
  await Deno.remove(project, { recursive: true }).catch(() => {});
}
console.log(`load average after: ${load()}`);
