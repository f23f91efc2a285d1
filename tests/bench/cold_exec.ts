/**
 * Cold start: wall time of `agentbox exec -- true` against the floor measured in the same run —
 * bare QEMU booting the same kernel with an initramfs whose init powers off at once.
 *
 * Run: deno run -A tests/bench/cold_exec.ts [RUNS]   (default 7 runs of each, interleaved)
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { probeAccel } from "../../host/vm/qemu/accel.ts";
import { hostTscKhz } from "../../host/vm/qemu/host_tsc.ts";
import { DEFAULT_QEMU } from "../../host/vm/qemu/qemu_vm.ts";
import { NO_TEMPLATE_ENV } from "../../host/vm/template.ts";
import { agentbox } from "../helpers.ts";
import { floorArgs, initramfsWithInit, POWEROFF_INIT } from "./floor_vm.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 7);
const image = await findImage("default");
const accel = await probeAccel(DEFAULT_QEMU);
const tscKhz = await hostTscKhz();
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-" });
const initrd = `${work}/poweroff.cpio`;
await Deno.writeFile(initrd, await initramfsWithInit(POWEROFF_INIT));

async function floorOnce(): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(DEFAULT_QEMU, {
    args: floorArgs(image, initrd, work, accel, tscKhz),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`floor VM failed: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - start;
}

async function execOnce(): Promise<number> {
  const start = performance.now();
  // The cold path: no template snapshot (template_exec.ts measures that one).
  const out = await agentbox(["exec", "--", "true"], { env: { [NO_TEMPLATE_ENV]: "1" } }).output();
  if (!out.success) throw new Error(`exec failed: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - start;
}

await execOnce(); // Warm Deno's module cache so the first sample is not a compile.
const floor: number[] = [];
const exec: number[] = [];
for (let i = 0; i < runs; i++) {
  floor.push(await floorOnce());
  exec.push(await execOnce());
}
await Deno.remove(work, { recursive: true });

const f = median(floor);
const e = median(exec);
console.log(`accel: ${accel.kind}, runs: ${runs} each (interleaved)`);
console.log(
  `floor (QEMU + kernel + poweroff init): median ${f.toFixed(0)} ms  [${
    floor.map((x) => x.toFixed(0)).join(", ")
  }]`,
);
console.log(
  `agentbox exec -- true:                 median ${e.toFixed(0)} ms  [${
    exec.map((x) => x.toFixed(0)).join(", ")
  }]`,
);
console.log(`ratio: ${(e / f).toFixed(2)} (target <= 1.5)`);
