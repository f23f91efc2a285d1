/**
 * The staging directories image builds work in (`<images>/.NAME.build-XXXX`, renamed into place
 * at the end), and what is left of builds that did not finish. Each staging directory has a lock
 * file beside it (`.NAME.build-XXXX.lock`) held for the build's life: a directory whose lock
 * nobody holds belongs to a build that was killed, and the next build (or `prune`) removes it.
 * A build stopped by a signal removes its own at once ({@linkcode removeOwnStagingsSync}, called
 * by the CLI's signal handler).
 *
 * @module
 */

import { join } from "node:path";
import { type FileLock, fileLockHeld, tryFileLock } from "../host/file_lock.ts";

/** A build's staging directory, held until {@linkcode BuildStaging.close}. */
export interface BuildStaging {
  dir: string;
  /** Remove the directory if it is still there, and release the lock. Idempotent. */
  close(): Promise<void>;
}

/** What this process is building right now: removed by a signal handler. */
const OWN = new Set<string>();

/** Leftovers without a lock file (from builds older than the locks) are stale after this. */
const UNLOCKED_STALE_MS = 60 * 60 * 1000;

/** `.NAME.build-XXXX`, `.NAME.build-XXXX.old` (the image being replaced) and `.NAME.rm-XXXX`. */
const LEFTOVER =
  /^\.([a-z0-9][a-z0-9._-]{0,63})\.(build-[A-Za-z0-9_]+)(\.old)?$|^\.[a-z0-9][a-z0-9._-]{0,63}\.rm-[0-9a-f]{8}$/;

/** The lock file beside a staging directory. */
const LOCK = /^\.[a-z0-9][a-z0-9._-]{0,63}\.build-[A-Za-z0-9_]+\.lock$/;

/**
 * Make the staging directory of a build of image `name` in `imagesDir`, and hold its lock.
 *
 * @example
 * ```ts ignore
 * import { makeBuildStaging } from "./build_staging.ts";
 * const staging = await makeBuildStaging("/tmp/images", "default");
 * try {
 *   // … build in staging.dir, rename it into place …
 * } finally {
 *   await staging.close();
 * }
 * ```
 */
export async function makeBuildStaging(imagesDir: string, name: string): Promise<BuildStaging> {
  await Deno.mkdir(imagesDir, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: imagesDir, prefix: `.${name}.build-` });
  let lock: FileLock | undefined;
  try {
    lock = await tryFileLock(`${dir}.lock`);
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  OWN.add(dir);
  let closed = false;
  return {
    dir,
    async close() {
      if (closed) return;
      closed = true;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      OWN.delete(dir);
      await Deno.remove(`${dir}.lock`).catch(() => {});
      lock?.release();
    },
  };
}

/**
 * Remove this process's staging directories now, synchronously: for a signal handler that exits
 * right after. Returns the directories removed.
 *
 * @example
 * ```ts ignore
 * import { removeOwnStagingsSync } from "./build_staging.ts";
 * Deno.addSignalListener("SIGTERM", () => {
 *   removeOwnStagingsSync();
 *   Deno.exit(143);
 * });
 * ```
 */
export function removeOwnStagingsSync(): string[] {
  const removed: string[] = [];
  for (const dir of OWN) {
    // A child (mkfs.erofs, dpkg-deb) may still be writing in it: try again once.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        Deno.removeSync(dir, { recursive: true });
        break;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) break;
      }
    }
    try {
      Deno.removeSync(`${dir}.lock`);
    } catch {
      // Gone already, or removed with the next build's sweep.
    }
    OWN.delete(dir);
    removed.push(dir);
  }
  return removed;
}

/**
 * Remove what killed builds and removals left in `imagesDir`: staging directories whose lock
 * nobody holds (with their lock files), and half-removed images. An image a killed build had
 * moved aside (`.NAME.build-XXXX.old`) is put back when nothing took its place. Returns the
 * paths removed (with `dryRun`, the paths that would be, touching nothing).
 *
 * @example
 * ```ts ignore
 * import { removeStaleBuilds } from "./build_staging.ts";
 * console.log(await removeStaleBuilds(`${Deno.env.get("HOME")}/.local/share/agentbox/images`));
 * ```
 */
export async function removeStaleBuilds(
  imagesDir: string,
  options: { dryRun?: boolean } = {},
): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(imagesDir));
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const match = LEFTOVER.exec(entry.name);
    if (!match || !entry.isDirectory) continue;
    const path = join(imagesDir, entry.name);
    const [, name, build, old] = match;
    if (build === undefined && options.dryRun) {
      removed.push(path);
      continue;
    }
    if (build !== undefined) {
      const staging = join(imagesDir, `.${name}.${build}`);
      if (OWN.has(staging) || !(await abandoned(staging, path))) continue;
      if (options.dryRun) {
        if (!old) removed.push(path);
        continue;
      }
      if (old) {
        const target = join(imagesDir, name);
        const restored = await Deno.lstat(target).then(() => false, () => true) &&
          await Deno.rename(path, target).then(() => true, () => false);
        if (restored) continue;
      }
    }
    await Deno.remove(path, { recursive: true }).catch(() => {});
    if (build !== undefined && !old) await Deno.remove(`${path}.lock`).catch(() => {});
    removed.push(path);
  }
  // Then the locks whose build is gone, directory and all.
  for (const entry of options.dryRun ? [] : entries) {
    if (!entry.isFile || !LOCK.test(entry.name)) continue;
    const lock = join(imagesDir, entry.name);
    const staging = lock.slice(0, -".lock".length);
    if (await Deno.lstat(staging).then(() => true, () => false)) continue;
    if (!(await fileLockHeld(lock))) await Deno.remove(lock).catch(() => {});
  }
  return removed;
}

/** Whether the build that made `staging` is gone: its lock is free, or (no lock) it is old. */
async function abandoned(staging: string, path: string): Promise<boolean> {
  const lock = `${staging}.lock`;
  if (await Deno.lstat(lock).then(() => true, () => false)) return !(await fileLockHeld(lock));
  const info = await Deno.lstat(path).catch(() => undefined);
  return info?.mtime !== null && info?.mtime !== undefined &&
    Date.now() - info.mtime.getTime() > UNLOCKED_STALE_MS;
}
