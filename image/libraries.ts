/**
 * Shared-library closure of ELF binaries, resolved against extracted Debian packages: follows
 * `PT_INTERP` and `DT_NEEDED` recursively, like the dynamic loader would in the guest, and says
 * which package each file comes from. The guest root filesystem is merged-/usr (`/lib` →
 * `usr/lib`), so paths are reported in their `/usr` form.
 *
 * @module
 */

import { dirname, join, posix } from "node:path";
import { readElfLinking } from "./elf.ts";
import { ImageError } from "./errors.ts";

/** A Debian package extracted with `dpkg-deb -x` into `root`. */
export interface ExtractedPackage {
  name: string;
  root: string;
}

/** One file the guest needs, and where it comes from. */
export type PlannedFile =
  | { type: "file"; source: string; package: string }
  | { type: "symlink"; target: string; package: string };

/** Where the guest's loader looks for libraries (Debian multiarch, x86_64). */
export const LIBRARY_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"];

/**
 * The merged-/usr form of an absolute guest path: `/lib/x` → `/usr/lib/x`, likewise `/bin`,
 * `/sbin` and `/lib64`.
 *
 * @example
 * ```ts
 * import { usrMerged } from "./libraries.ts";
 * usrMerged("/lib64/ld-linux-x86-64.so.2"); // "/usr/lib64/ld-linux-x86-64.so.2"
 * ```
 */
export function usrMerged(path: string): string {
  return /^\/(bin|sbin|lib|lib64)(\/|$)/.test(path) ? `/usr${path}` : path;
}

/**
 * Find the package that has guest path `path` (in either its `/usr` or its historical form).
 *
 * @example
 * ```ts
 * import { locate } from "./libraries.ts";
 * await locate([{ name: "libc6", root: "/tmp/x/libc6" }], "/usr/lib/x86_64-linux-gnu/libc.so.6");
 * // { package: "libc6", source: "/tmp/x/libc6/lib/x86_64-linux-gnu/libc.so.6", info: … }
 * ```
 */
export async function locate(
  packages: ExtractedPackage[],
  path: string,
): Promise<{ package: string; source: string; info: Deno.FileInfo } | undefined> {
  const merged = usrMerged(path);
  const forms = [merged, merged.replace(/^\/usr(?=\/(bin|sbin|lib|lib64)\/)/, "")];
  for (const pkg of packages) {
    for (const form of new Set(forms)) {
      const source = join(pkg.root, form);
      const info = await Deno.lstat(source).catch(() => undefined);
      if (info && !info.isDirectory) return { package: pkg.name, source, info };
    }
  }
  return undefined;
}

/**
 * Plan the guest files for `path` from `packages`: the file itself, or the symlink and
 * (recursively) what it points at. Returns the guest path of the final regular file.
 *
 * @example
 * ```ts
 * import { addPackagedPath, type PlannedFile } from "./libraries.ts";
 * const plan = new Map<string, PlannedFile>();
 * await addPackagedPath(plan, [{ name: "curl", root: "/tmp/x/curl" }], "/usr/bin/curl");
 * ```
 */
export async function addPackagedPath(
  plan: Map<string, PlannedFile>,
  packages: ExtractedPackage[],
  path: string,
): Promise<{ guestPath: string; source: string }> {
  for (let hops = 0; hops < 16; hops++) {
    const found = await locate(packages, path);
    if (!found) throw new ImageError(`No Debian package in the image build provides ${path}`);
    const guestPath = usrMerged(path);
    if (!found.info.isSymlink) {
      plan.set(guestPath, { type: "file", source: found.source, package: found.package });
      return { guestPath, source: found.source };
    }
    const target = await Deno.readLink(found.source);
    plan.set(guestPath, { type: "symlink", target, package: found.package });
    path = posix.resolve(dirname(path), target);
  }
  throw new ImageError(`Too many symbolic links at ${path}`);
}

/**
 * Add to `plan` every library (and the loader) that the ELF files at host paths `binaries`
 * need, transitively, taken from `packages`.
 *
 * @example
 * ```ts
 * import { addLibraries, type PlannedFile } from "./libraries.ts";
 * const plan = new Map<string, PlannedFile>();
 * await addLibraries(plan, [{ name: "libc6", root: "/tmp/x/libc6" }], ["/tmp/x/curl/usr/bin/curl"]);
 * ```
 */
export async function addLibraries(
  plan: Map<string, PlannedFile>,
  packages: ExtractedPackage[],
  binaries: string[],
): Promise<void> {
  const queue = [...binaries];
  const seen = new Set<string>();
  while (queue.length) {
    const binary = queue.shift()!;
    if (seen.has(binary)) continue;
    seen.add(binary);
    const linking = readElfLinking(await Deno.readFile(binary));
    if (linking.interpreter) {
      queue.push((await addPackagedPath(plan, packages, linking.interpreter)).source);
    }
    for (const soname of linking.needed) {
      const path = await findLibrary(packages, soname);
      if (!path) throw new ImageError(`No Debian package in the image build provides ${soname}`);
      queue.push((await addPackagedPath(plan, packages, path)).source);
    }
  }
}

async function findLibrary(
  packages: ExtractedPackage[],
  soname: string,
): Promise<string | undefined> {
  for (const dir of LIBRARY_DIRS) {
    if (await locate(packages, `${dir}/${soname}`)) return `${dir}/${soname}`;
  }
  return undefined;
}
