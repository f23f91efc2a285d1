/**
 * The versions of what agentbox is made of on this host: itself, the Deno running it, QEMU, and
 * the images built here (with the agentbox that built each). What `agentbox version` shows.
 *
 * @module
 */

import { DEFAULT_QEMU } from "../vm/qemu/qemu_vm.ts";
import { VERSION } from "../version.ts";
import { commandOutput } from "./doctor.ts";
import { type ImageSummary, listImageSummaries } from "./images.ts";

/** Every version `agentbox version` reports. */
export interface Versions {
  agentbox: string;
  deno: { deno: string; v8: string; typescript: string };
  /** The QEMU binary agentbox starts, and the first line of its `--version` (null: not found). */
  qemu: { binary: string; version: string | null };
  images: ImageSummary[];
}

/**
 * Collect the versions; nothing here fails for a missing part (it is reported as missing).
 *
 * @example
 * ```ts ignore
 * import { versions } from "./versions.ts";
 * console.log((await versions()).qemu.version ?? "QEMU not found");
 * ```
 */
export async function versions(): Promise<Versions> {
  const binary = Deno.env.get("AGENTBOX_QEMU") || DEFAULT_QEMU;
  const [qemu, list] = await Promise.all([
    commandOutput(binary, ["--version"]),
    listImageSummaries(),
  ]);
  return {
    agentbox: VERSION,
    deno: { ...Deno.version },
    qemu: { binary, version: qemu?.split("\n")[0] ?? null },
    images: list.images,
  };
}
