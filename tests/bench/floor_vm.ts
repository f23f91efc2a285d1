/**
 * The baseline VMs the benchmarks compare agentbox against: the same kernel and QEMU command line
 * as a real VM, with an initramfs of our own making instead of the image's.
 *
 * @module
 */

import { writeCpio } from "../../image/cpio.ts";
import type { ImagePaths } from "../../image/store.ts";
import { qemuArgv } from "../../host/vm/qemu/argv.ts";
import type { Accel } from "../../host/vm/qemu/accel.ts";

const BUSYBOX = "/bin/busybox";

/** An initramfs holding static busybox and `init`, a busybox shell script. */
export async function initramfsWithInit(script: string): Promise<Uint8Array> {
  return writeCpio([
    { path: "bin", type: "dir" },
    { path: "dev", type: "dir" },
    { path: "dev/console", type: "char", major: 5, minor: 1, mode: 0o600 },
    { path: "bin/busybox", type: "file", data: await Deno.readFile(BUSYBOX), mode: 0o755 },
    { path: "init", type: "file", data: new TextEncoder().encode(script), mode: 0o755 },
  ]);
}

/** The floor for a cold start: an init that powers the VM off at once. */
export const POWEROFF_INIT = "#!/bin/busybox sh\n/bin/busybox poweroff -f\n";

/**
 * QEMU arguments for `image`'s kernel with `initrd` in place of the image's, otherwise exactly
 * what agentbox would run.
 */
export function floorArgs(
  image: ImagePaths,
  initrd: string,
  runtimeDir: string,
  accel: Accel,
  tscKhz: number | undefined,
) {
  return qemuArgv({
    kernel: image.kernel,
    initrd,
    rootfs: image.rootfs,
    cpus: 2,
    memoryMb: 1024,
    runtimeDir,
    bootTimeoutMs: 60_000,
  }, { accel, channel: "serial", tscKhz });
}
