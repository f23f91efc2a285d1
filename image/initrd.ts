/**
 * The initrd: an uncompressed newc cpio with static busybox, the stage 1 `/init` and the kernel
 * modules it loads. Kept small because the kernel unpacks all of it before `/init` runs.
 *
 * @module
 */

import { join } from "node:path";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import type { KernelModule } from "./modules.ts";
import { MODULES_DIR, STAGE1_APPLETS, stage1Init } from "./stage1.ts";

/** Inputs of {@link buildInitrd}. */
export interface InitrdInputs {
  /** Host path of the static busybox binary. */
  busybox: string;
  /** Host path of `/lib/modules/<release>` of the extracted kernel package. */
  modulesDir: string;
  /** Modules in load order (see `moduleLoadOrder`). */
  modules: KernelModule[];
}

/**
 * Build the initrd archive.
 *
 * @example
 * ```ts
 * import { buildInitrd } from "./initrd.ts";
 * const archive = await buildInitrd({
 *   busybox: "/tmp/x/busybox-static/bin/busybox",
 *   modulesDir: "/tmp/x/linux-image/lib/modules/6.1.0-56-cloud-amd64",
 *   modules: [],
 * });
 * await Deno.writeFile("/tmp/initrd.img", archive);
 * ```
 */
export async function buildInitrd(inputs: InitrdInputs): Promise<Uint8Array> {
  const entries: CpioEntry[] = [
    ...["bin", "dev", "proc", "sys", "lower", "rw", "newroot", "lib", MODULES_DIR].map((
      path,
    ): CpioEntry => ({ path, type: "dir" })),
    { path: "dev/console", type: "char", major: 5, minor: 1 },
    { path: "bin/busybox", type: "file", data: await Deno.readFile(inputs.busybox), mode: 0o755 },
    ...STAGE1_APPLETS.map((name): CpioEntry => ({
      path: `bin/${name}`,
      type: "symlink",
      target: "busybox",
    })),
    {
      path: "init",
      type: "file",
      data: new TextEncoder().encode(stage1Init(inputs.modules.map((m) => m.name))),
      mode: 0o755,
    },
  ];
  for (const module of inputs.modules) {
    entries.push({
      path: `${MODULES_DIR}/${module.name}.ko`,
      type: "file",
      data: await Deno.readFile(join(inputs.modulesDir, module.path)),
    });
  }
  return writeCpio(entries);
}
