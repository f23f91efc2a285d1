/**
 * Streaming: `agentbox exec -- head -c 500M /dev/zero` through to the host, in MB/s, against the
 * raw byte rate of the same virtio-serial channel (a VM whose init writes the same bytes straight
 * into the port, no agent, no protocol), plus the host agentbox process's peak RSS.
 *
 * Run: deno run -A tests/bench/stream.ts [RUNS]   (default 5 runs of each, interleaved)
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { probeAccel } from "../../host/vm/qemu/accel.ts";
import { hostTscKhz } from "../../host/vm/qemu/host_tsc.ts";
import { qemuFiles } from "../../host/vm/qemu/argv.ts";
import { DEFAULT_QEMU } from "../../host/vm/qemu/qemu_vm.ts";
import { connectChannel } from "../../host/channel/connect.ts";
import { agentbox } from "../helpers.ts";
import { floorArgs } from "./floor_vm.ts";
import { median } from "./stats.ts";

const BYTES = 500_000_000;
const runs = Number(Deno.args[0] ?? 5);
const image = await findImage("default");
const accel = await probeAccel(DEFAULT_QEMU);
const tscKhz = await hostTscKhz();
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-" });
const rawInitrd = await buildRawInitrd(image.initrd, `${work}/raw`);

/**
 * The image's own initrd, with `init` cut before it mounts the root and replaced by a writer of
 * BYTES zero bytes into the agent port. Same kernel, same modules, same channel.
 */
async function buildRawInitrd(initrd: string, dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const unpack = await new Deno.Command("sh", {
    args: ["-c", `cpio -idm --quiet < "$1"`, "sh", initrd],
    cwd: dir,
  }).output();
  if (!unpack.success) throw new Error("cannot unpack the image's initrd (is cpio installed?)");
  const init = await Deno.readTextFile(`${dir}/init`);
  const cut = init.indexOf("\ntries=0");
  if (cut < 0) throw new Error("the image's /init has an unexpected shape");
  await Deno.writeTextFile(
    `${dir}/init`,
    init.slice(0, cut) + `
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name")" = agentbox ] && port=/dev/\${p##*/}
done
/bin/busybox head -c ${BYTES} /dev/zero > "$port"
poweroff -f
`,
  );
  const out = `${work}/raw.cpio`;
  const pack = await new Deno.Command("sh", {
    args: ["-c", `find . | cpio -o -H newc --quiet > "$1"`, "sh", out],
    cwd: dir,
  }).output();
  if (!pack.success) throw new Error("cannot pack the raw-writer initrd");
  return out;
}

async function rawOnce(): Promise<number> {
  const runtimeDir = await Deno.makeTempDir({ dir: work });
  const qemu = new Deno.Command(DEFAULT_QEMU, {
    args: floorArgs(image, rawInitrd, runtimeDir, accel, tscKhz),
    stdout: "null",
    stderr: "null",
  }).spawn();
  const conn = await connectChannel(
    { kind: "serial", socket: qemuFiles(runtimeDir).agentSocket },
    AbortSignal.timeout(60_000),
  );
  const rate = await measure(conn.readable);
  await qemu.status;
  return rate;
}

async function agentboxOnce(): Promise<{ rate: number; peakRssMb: number }> {
  const child = agentbox(["exec", "--", "head", "-c", String(BYTES), "/dev/zero"]);
  let peakKb = 0;
  const poll = setInterval(() => peakKb = Math.max(peakKb, hwmKb(child.pid)), 100);
  const rate = await measure(child.stdout);
  const status = await child.status;
  clearInterval(poll);
  await child.stderr.cancel();
  if (!status.success) throw new Error(`agentbox exec failed with ${status.code}`);
  return { rate, peakRssMb: peakKb / 1024 };
}

/** MB/s from the first byte to the last, checking the byte count. */
async function measure(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  let start = 0;
  for await (const chunk of stream) {
    if (bytes === 0) start = performance.now();
    bytes += chunk.length;
    if (bytes >= BYTES) break;
  }
  const seconds = (performance.now() - start) / 1000;
  if (bytes !== BYTES) throw new Error(`received ${bytes} bytes, expected ${BYTES}`);
  return bytes / 1e6 / seconds;
}

function hwmKb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const raw: number[] = [];
const viaAgentbox: number[] = [];
const rss: number[] = [];
for (let i = 0; i < runs; i++) {
  raw.push(await rawOnce());
  const run = await agentboxOnce();
  viaAgentbox.push(run.rate);
  rss.push(run.peakRssMb);
}
await Deno.remove(work, { recursive: true });

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
console.log(`accel: ${accel.kind}, ${BYTES / 1e6} MB per run, runs: ${runs} each (interleaved)`);
console.log(`raw channel:    median ${median(raw).toFixed(0)} MB/s  [${fmt(raw)}]`);
console.log(`agentbox exec:  median ${median(viaAgentbox).toFixed(0)} MB/s  [${fmt(viaAgentbox)}]`);
console.log(`ratio: ${(median(viaAgentbox) / median(raw)).toFixed(2)} (target >= 0.7)`);
console.log(
  `agentbox peak RSS: median ${median(rss).toFixed(0)} MB  [${fmt(rss)}] (target <= 150)`,
);
