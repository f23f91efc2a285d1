/**
 * Kernel modules: read a module's dependencies from its `.modinfo` section (what `depmod` turns
 * into `modules.dep`; Debian's kernel package ships no `modules.dep`, and `kmod` may be absent on
 * the host), and compute the load order the initrd uses.
 *
 * @module
 */

import { basename, join } from "node:path";
import { readElfSection } from "./elf.ts";
import { ImageError } from "./errors.ts";

/** A loadable kernel module and the modules it needs loaded first. */
export interface KernelModule {
  name: string;
  /** Path relative to `/lib/modules/<release>/`, e.g. `kernel/fs/erofs/erofs.ko`. */
  path: string;
  depends: string[];
}

/**
 * The canonical form of a module name: `-` and `_` are the same to the kernel.
 *
 * @example
 * ```ts
 * import { moduleName } from "./modules.ts";
 * moduleName("kernel/arch/x86/crypto/crc32c-intel.ko"); // "crc32c_intel"
 * ```
 */
export function moduleName(pathOrName: string): string {
  return basename(pathOrName).replace(/\.ko(\.(xz|gz|zst))?$/, "").replaceAll("-", "_");
}

/**
 * Parse a `.modinfo` section (NUL-separated `key=value` strings) into `depends=` names.
 *
 * @example
 * ```ts
 * import { parseModinfoDepends } from "./modules.ts";
 * const text = "name=virtio_mmio\0depends=virtio,virtio_ring\0";
 * parseModinfoDepends(new TextEncoder().encode(text)); // ["virtio", "virtio_ring"]
 * ```
 */
export function parseModinfoDepends(modinfo: Uint8Array): string[] {
  for (const field of new TextDecoder().decode(modinfo).split("\0")) {
    if (field.startsWith("depends=")) {
      return field.slice("depends=".length).split(",").filter(Boolean).map(moduleName);
    }
  }
  return [];
}

/**
 * Parse `modules.dep` text (`kernel/a.ko: kernel/b.ko kernel/c.ko` per line) into modules.
 *
 * @example
 * ```ts
 * import { parseModulesDep } from "./modules.ts";
 * parseModulesDep("kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n");
 * // [{ name: "virtiofs", path: "kernel/fs/fuse/virtiofs.ko", depends: ["fuse"] }]
 * ```
 */
export function parseModulesDep(text: string): KernelModule[] {
  const result: KernelModule[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const depends = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    result.push({ name: moduleName(path), path, depends });
  }
  return result;
}

/**
 * Names of the modules built into the kernel, from `modules.builtin` text.
 *
 * @example
 * ```ts
 * import { parseModulesBuiltin } from "./modules.ts";
 * parseModulesBuiltin("kernel/fs/ext4/ext4.ko\n"); // Set { "ext4" }
 * ```
 */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split("\n").map((line) => line.trim()).filter(Boolean).map(moduleName));
}

/**
 * Index the modules under `/lib/modules/<release>/` of an extracted kernel package: from
 * `modules.dep` when the package has one, else from every `.ko`'s `.modinfo` section.
 *
 * @example
 * ```ts
 * import { readKernelModules } from "./modules.ts";
 * const modules = await readKernelModules("/tmp/k/lib/modules/6.1.0-56-cloud-amd64");
 * console.log(modules.get("virtio_mmio")?.depends); // ["virtio", "virtio_ring"]
 * ```
 */
export async function readKernelModules(releaseDir: string): Promise<Map<string, KernelModule>> {
  const dep = await Deno.readTextFile(join(releaseDir, "modules.dep")).catch(() => undefined);
  if (dep !== undefined) return new Map(parseModulesDep(dep).map((m) => [m.name, m]));
  const result = new Map<string, KernelModule>();
  const walk = async (relative: string): Promise<void> => {
    for await (const entry of Deno.readDir(join(releaseDir, relative))) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ko")) {
        const modinfo = readElfSection(await Deno.readFile(join(releaseDir, path)), ".modinfo");
        const depends = modinfo ? parseModinfoDepends(modinfo) : [];
        result.set(moduleName(path), { name: moduleName(path), path, depends });
      }
    }
  };
  await walk("kernel");
  return result;
}

/**
 * The modules to `insmod`, dependencies first, so that `wanted` are all available. Wanted
 * modules built into the kernel are skipped; a wanted module that is neither is an error.
 *
 * @example
 * ```ts
 * import { moduleLoadOrder, parseModulesDep } from "./modules.ts";
 * const modules = new Map(parseModulesDep(
 *   "kernel/virtio_mmio.ko: kernel/virtio.ko kernel/virtio_ring.ko\n" +
 *     "kernel/virtio.ko: kernel/virtio_ring.ko\nkernel/virtio_ring.ko:\n",
 * ).map((m) => [m.name, m]));
 * moduleLoadOrder(["virtio_mmio", "ext4"], modules, new Set(["ext4"]))
 *   .map((m) => m.name); // ["virtio_ring", "virtio", "virtio_mmio"]
 * ```
 */
export function moduleLoadOrder(
  wanted: string[],
  modules: Map<string, KernelModule>,
  builtin: Set<string>,
): KernelModule[] {
  const order: KernelModule[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, chain: string[]): void => {
    if (builtin.has(name) || state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw new ImageError(`Kernel modules depend on each other: ${[...chain, name].join(" → ")}`);
    }
    const module = modules.get(name);
    if (!module) {
      const via = chain.length ? ` (needed by ${chain.at(-1)})` : "";
      throw new ImageError(`Kernel module ${name}${via} is neither built in nor in the package`);
    }
    state.set(name, "visiting");
    for (const dependency of module.depends) visit(dependency, [...chain, name]);
    state.set(name, "done");
    order.push(module);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}
