/**
 * `--share DIR` on the host side: record the baseline, build (or reuse) a read-only erofs image
 * of DIR for the overlay's lower layer, and create the session's writable disk for the upper
 * layer. The upper disk lives in the session's state directory, so the guest's changes survive a
 * crash of agentbox or of the VM.
 *
 * The lower image is cached per directory under `$XDG_CACHE_HOME/agentbox/shares/` and keyed by
 * the baseline's facts (paths, types, modes, sizes, mtimes, inodes): an unchanged tree is not
 * packed again.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";
import { createHash } from "node:crypto";
import { runCommand } from "../run_command.ts";
import { cacheDir } from "../paths.ts";
import { takeBaseline, writeBaseline } from "./baseline.ts";
import { type Baseline, changesetPaths } from "./changeset.ts";
import { formatBytes, freeBytes } from "./state_space.ts";

/** A share could not be set up. The message says why and what to do. */
export class ShareError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code: "share_failed" });
    this.name = "ShareError";
  }
}

/** Options of {@linkcode prepareShare}. */
export interface ShareOptions {
  /** Where lower images are cached (default `$XDG_CACHE_HOME/agentbox/shares`). */
  cacheDir?: string;
  /**
   * Size of the upper disk (sparse; default 16 GiB): the most the guest can write. Never more
   * than half of what the state file system has free beyond `stateReserveBytes`: the disk fills
   * as the guest writes, and collecting its changes takes as much again.
   */
  upperBytes?: number;
  /** Free bytes of the state file system agentbox leaves alone (default 0). */
  stateReserveBytes?: number;
  /** Progress lines for the user. */
  onProgress?: (message: string) => void;
  /**
   * Who owns every file of the share in the guest (the image's default user, so it can write
   * there); absent, the host's owners are kept.
   */
  owner?: { uid: number; gid: number };
}

/** A share ready to attach to a VM. */
export interface PreparedShare {
  /** The host directory, resolved. */
  root: string;
  baseline: Baseline;
  /** Read-only erofs image of `root`. */
  lowerImage: string;
  /** The session's writable ext4 disk for the upper layer. */
  upperDisk: string;
  /** Whether `lowerImage` came from the cache. */
  cached: boolean;
}

/** Default size of the upper disk. */
export const DEFAULT_UPPER_BYTES = 16 * 1024 ** 3;

/** The smallest upper disk worth booting a session with. */
export const MIN_UPPER_BYTES = 64 * 1024 ** 2;

/**
 * Prepare `dir` for a session whose state lives in `sessionDir`.
 *
 * @example
 * ```ts
 * import { prepareShare } from "./share.ts";
 * const share = await prepareShare(Deno.cwd(), "/state/sessions/abc");
 * console.log(share.lowerImage, share.upperDisk);
 * ```
 */
export async function prepareShare(
  dir: string,
  sessionDir: string,
  options: ShareOptions = {},
): Promise<PreparedShare> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new ShareError(`Cannot share ${dir}: it is not a directory`);
  }
  const paths = changesetPaths(sessionDir);
  await Deno.mkdir(paths.root, { recursive: true, mode: 0o700 });
  const baseline = await takeBaseline(dir);
  await writeBaseline(paths.baseline, baseline);
  const { image, cached } = await lowerImage(baseline, options);
  const upperDisk = paths.upperDisk;
  await makeUpperDisk(upperDisk, upperSize(paths.root, options));
  return { root: baseline.root, baseline, lowerImage: image, upperDisk, cached };
}

async function lowerImage(
  baseline: Baseline,
  options: ShareOptions,
): Promise<{ image: string; cached: boolean }> {
  const dir = `${options.cacheDir ?? shareCacheDir()}/${shareCacheKey(baseline.root)}`;
  const owner = options.owner
    ? [`--force-uid=${options.owner.uid}`, `--force-gid=${options.owner.gid}`]
    : [];
  const image = `${dir}/${digest(JSON.stringify([baseline.entries, owner]))}.erofs`;
  if (await Deno.stat(image).then(() => true, () => false)) return { image, cached: true };
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  options.onProgress?.(
    `packing ${baseline.root} (${Object.keys(baseline.entries).length} entries)`,
  );
  const temp = `${image}.${crypto.randomUUID()}.tmp`;
  try {
    await runCommand("mkfs.erofs", ["--quiet", "-x-1", ...owner, temp, baseline.root], {
      missingHint: "install erofs-utils",
      env: helperEnv(),
      makeError: (message, errorOptions) =>
        new ShareError(`Cannot pack ${baseline.root} for the VM: ${message}`, errorOptions),
    });
    await Deno.rename(temp, image);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  // Older images of the same directory are stale now.
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (path !== image && entry.name.endsWith(".erofs")) await Deno.remove(path).catch(() => {});
  }
  return { image, cached: false };
}

/** The upper disk's size: as asked, within half of the state's free space beyond the reserve. */
function upperSize(dir: string, options: ShareOptions): number {
  const reserve = options.stateReserveBytes ?? 0;
  const free = freeBytes(dir);
  const room = Math.floor((free - reserve) / 2 / 1024 ** 2) * 1024 ** 2;
  const bytes = Math.min(options.upperBytes ?? DEFAULT_UPPER_BYTES, room);
  if (bytes < MIN_UPPER_BYTES) {
    throw new ShareError(
      `Cannot create the workspace disk: ${dir} has ${formatBytes(Math.max(free, 0))} free, ` +
        `and agentbox keeps ${formatBytes(reserve)} of it (workspace.state_reserve); ` +
        `a session needs at least ${formatBytes(2 * MIN_UPPER_BYTES)} beyond that`,
    );
  }
  return bytes;
}

async function makeUpperDisk(path: string, bytes: number): Promise<void> {
  if (await Deno.stat(path).then(() => true, () => false)) return; // a resumed session keeps it
  const temp = `${path}.tmp`;
  const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o600 });
  await file.truncate(bytes);
  file.close();
  await runCommand(
    "mkfs.ext4",
    ["-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", temp],
    {
      missingHint: "install e2fsprogs",
      env: helperEnv(),
      makeError: (message, errorOptions) =>
        new ShareError(`Cannot create the workspace disk: ${message}`, errorOptions),
    },
  );
  await Deno.rename(temp, path);
}

/** Where lower images are cached by default: `$XDG_CACHE_HOME/agentbox/shares`. */
export function shareCacheDir(): string {
  return `${cacheDir()}/shares`;
}

/**
 * The cache entry (a folder of {@linkcode shareCacheDir}) that holds `root`'s lower image.
 *
 * @example
 * ```ts
 * import { shareCacheKey } from "./share.ts";
 * console.assert(/^[0-9a-f]{16}$/.test(shareCacheKey("/home/me/proj")));
 * ```
 */
export function shareCacheKey(root: string): string {
  return digest(root).slice(0, 16);
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
