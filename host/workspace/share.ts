/**
 * `--share DIR` on the host side: record the baseline, build (or reuse) a read-only erofs image
 * of DIR for the overlay's lower layer, and create the session's writable disk for the upper
 * layer. The upper disk lives in the session's state directory, so the guest's changes survive a
 * crash of agentbox or of the VM.
 *
 * The lower image is cached per directory under `$XDG_CACHE_HOME/agentbox/shares/` and keyed by
 * the baseline's facts (paths, types, modes, sizes, mtimes, inodes): an unchanged tree is not
 * packed again. A changed tree is, as a rule, not packed again either: a small delta layer of
 * what changed is appended to the cached image (share_layers.ts), until the deltas pile up and
 * the tree is packed whole again. Packing a directory's image or delta holds that directory's
 * cache lock, so concurrent sessions of one project pack once (the others wait, then find the
 * image); an image is written under a temporary name and renamed into place, so a failed or
 * killed pack leaves no image, and its temporary file is removed then or by the next pack of
 * that directory.
 *
 * `share.exclude` patterns (share_exclude.ts) leave paths out of both the baseline and the image:
 * the guest never sees them, and a diff never shows them as deleted.
 *
 * @module
 */

import { AgentboxError, type AgentboxErrorOptions } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";
import { createHash } from "node:crypto";
import { runCommand } from "../run_command.ts";
import { cacheDir } from "../paths.ts";
import { type TreeWalk, walkTree, writeWalk } from "./baseline.ts";
import { recordEntry, recordType, type TreeRecords } from "./baseline_records.ts";
import { changesetPaths } from "./changeset.ts";
import { formatBytes, freeBytes } from "./state_space.ts";
import { shareExclude } from "./share_exclude.ts";
import { fileLock } from "../file_lock.ts";
import {
  appendLayer,
  deltaBytesFit,
  deltaFits,
  deltaOffsets,
  type LayerChain,
  type LayerLimits,
  MAX_DELTA_LAYERS,
  MAX_DELTA_SHARE,
  nextOffset,
  planDelta,
  readChain,
  readChainTop,
  stageDelta,
  topBaselinePath,
  writeChain,
} from "./share_layers.ts";

/** A share could not be set up. The message says why and what to do. */
export class ShareError extends AgentboxError {
  /** Kind `unavailable` (code `share_failed`) unless the request itself is wrong. */
  constructor(message: string, options?: ErrorOptions & Partial<AgentboxErrorOptions>) {
    super(message, { kind: "unavailable", code: "share_failed", ...options });
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
  /** How far a long step is (walking, packing a large tree), for a progress bar. */
  onStep?: (message: string, fraction?: number) => void;
  /** `share.exclude`: gitignore-syntax patterns of paths left out of the guest's copy. */
  exclude?: readonly string[];
  /** When a tree is large (default {@linkcode LARGE_TREE_ENTRIES}, {@linkcode LARGE_TREE_BYTES}). */
  largeTree?: { entries: number; bytes: number };
  /** When delta layers are compacted into a full image (default share_layers.ts's limits). */
  layers?: LayerLimits;
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
  /** The session's baseline file (`readBaseline` reads it): the tree as the session started. */
  baselineFile: string;
  /**
   * The walk the baseline file was written from, when this process walked the tree (absent for a
   * resumed share): its records, already checked, need not be read back.
   */
  walk?: TreeWalk;
  /** Read-only erofs image of `root`. */
  lowerImage: string;
  /** The session's writable ext4 disk for the upper layer. */
  upperDisk: string;
  /**
   * Byte offsets in `lowerImage` of the delta layers over the image at offset 0, oldest first
   * (share_layers.ts); empty when the image alone is the tree.
   */
  lowerLayers: number[];
  /** Whether `lowerImage` came from the cache as it was. */
  cached: boolean;
  /**
   * How the lower disk was made: taken from the cache as it was, a delta layer added to the
   * cached one, or the whole tree packed (absent for a resumed share).
   */
  build?: "cached" | "delta" | "packed";
  /** Top-most paths `exclude` left out (absent for a resumed share). */
  excluded?: string[];
}

/** A tree with more entries than this is large: say how much is packed and how to exclude. */
export const LARGE_TREE_ENTRIES = 100_000;

/** A tree with more bytes of files than this is large. */
export const LARGE_TREE_BYTES = 2 * 1024 ** 3;

/**
 * Most bytes of `--exclude-path` arguments passed to mkfs.erofs (the kernel's limit on a command
 * line is about 2 MiB): a pattern that excludes more single files must name their directory.
 */
const MAX_EXCLUDE_ARG_BYTES = 1024 * 1024;

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
    throw new ShareError(`Cannot share ${dir}: it is not a directory`, {
      kind: "usage",
      code: "share_not_directory",
    });
  }
  const paths = changesetPaths(sessionDir);
  await Deno.mkdir(paths.root, { recursive: true, mode: 0o700 });
  const excluded: string[] = [];
  const walk = await walkTree(dir, {
    exclude: shareExclude(options.exclude ?? []),
    onExcluded: (path) => excluded.push(path),
    onWalked: (n) => options.onStep?.(`reading ${dir}: ${n} entries`),
  });
  const lower = await lowerImage(walk, paths.baseline, excluded, options);
  const upperDisk = paths.upperDisk;
  await makeUpperDisk(upperDisk, upperSize(paths.root, options));
  return {
    root: walk.root,
    baselineFile: paths.baseline,
    walk,
    lowerImage: lower.image,
    lowerLayers: lower.layers,
    upperDisk,
    cached: lower.build === "cached",
    build: lower.build,
    excluded,
  };
}

/** Entries and bytes of regular files in `records`. */
export function treeSize(records: TreeRecords): { entries: number; bytes: number } {
  let bytes = 0;
  for (const record of records.values()) {
    if (recordType(record) === "file") bytes += recordEntry(record)?.size ?? 0;
  }
  return { entries: records.size, bytes };
}

/** What {@linkcode lowerImage} made. */
interface LowerImage {
  image: string;
  layers: number[];
  build: PreparedShare["build"];
}

/**
 * The version of the cache key: a new one when what a key is made of changes, so that no image
 * made under the old rules is taken for a tree it may not hold (it is packed again).
 */
const KEY_VERSION = "agentbox-share-key 2";

/**
 * The lower disk for the tree of `walk`, with the session's baseline file written to
 * `baselineFile` (the cache keeps a link to it as the topmost layer's baseline; a cache hit links
 * the other way).
 */
async function lowerImage(
  walk: TreeWalk,
  baselineFile: string,
  excluded: string[],
  options: ShareOptions,
): Promise<LowerImage> {
  const dir = `${options.cacheDir ?? shareCacheDir()}/${shareCacheKey(walk.root)}`;
  const owner = options.owner
    ? [`--force-uid=${options.owner.uid}`, `--force-gid=${options.owner.gid}`]
    : [];
  // What find printed, and what of it was kept: the same output under the same patterns is the
  // same tree (find's facts include each entry's inode, size, mtime to the nanosecond and mode).
  const key = createHash("sha256").update(
    JSON.stringify([KEY_VERSION, owner, options.exclude ?? [], walk.root, walk.digest]),
  ).digest("hex");
  const hit = await cachedChain(dir, key);
  if (hit && await linkBaseline(dir, hit.chain, baselineFile)) return hit.lower;
  await writeWalk(baselineFile, walk);
  const excludeArgs = excluded.map((path) => `--exclude-path=${path}`);
  if (excludeArgs.reduce((n, a) => n + a.length + 1, 0) > MAX_EXCLUDE_ARG_BYTES) {
    throw new ShareError(
      `Cannot pack ${walk.root}: share.exclude leaves out ${excluded.length} separate ` +
        `paths; exclude their directories instead (e.g. "logs/" rather than "*.log")`,
    );
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // One pack per shared directory at a time: a concurrent session of the same tree waits here,
  // then finds the image (or the layer) this one made.
  using _lock = await fileLock(`${dir}/pack.lock`);
  const again = await cachedChain(dir, key);
  if (again) return again.lower;
  await removeLeftovers(dir);
  const limits = options.layers ?? { maxDeltas: MAX_DELTA_LAYERS, maxShare: MAX_DELTA_SHARE };
  const delta = await addDelta(dir, key, owner, walk, baselineFile, limits, options);
  if (delta) return delta;
  return await packImage(dir, key, owner, excludeArgs, walk, baselineFile, options);
}

/** The chain of `dir` when its topmost layer is the tree of `key`. */
async function cachedChain(
  dir: string,
  key: string,
): Promise<{ chain: LayerChain; lower: LowerImage } | undefined> {
  const chain = await readChain(dir);
  if (chain?.layers[chain.layers.length - 1].key !== key) return undefined;
  const image = `${dir}/${chain.image}`;
  if (!await exists(image)) return undefined;
  return { chain, lower: { image, layers: deltaOffsets(chain), build: "cached" } };
}

/**
 * Make `baselineFile` the baseline of `chain`'s topmost layer (the same tree: nothing to write),
 * hard-linked, or copied across file systems; `false` when that baseline is gone (a concurrent
 * pack replaced it), and the caller writes its own.
 */
async function linkBaseline(dir: string, chain: LayerChain, baselineFile: string) {
  const top = topBaselinePath(dir, chain);
  const temp = `${baselineFile}.${crypto.randomUUID()}.tmp`;
  try {
    try {
      await Deno.link(top, temp);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw error;
      await Deno.copyFile(top, temp);
    }
    await Deno.rename(temp, baselineFile);
  } catch {
    await Deno.remove(temp).catch(() => {});
    return false;
  }
  return true;
}

/**
 * Add a delta layer for `baseline` to the chain of `dir` when there is one to add to and the
 * delta is small enough; `undefined` when the tree is to be packed whole.
 */
async function addDelta(
  dir: string,
  key: string,
  owner: string[],
  walk: TreeWalk,
  baselineFile: string,
  limits: LayerLimits,
  options: ShareOptions,
): Promise<LowerImage | undefined> {
  const chain = await readChain(dir);
  if (!chain || chain.owner.join(" ") !== owner.join(" ")) return undefined;
  const image = `${dir}/${chain.image}`;
  if (!await exists(image)) return undefined;
  const before = await readChainTop(dir, chain);
  if (!before || before.root !== walk.root) return undefined;
  const plan = planDelta(before.records, walk.records);
  if (!plan) return undefined;
  // The same entries, though find printed something else (an excluded file changed, or the
  // patterns did): the topmost layer is the tree.
  if (plan.changed.length === 0 && plan.whiteouts.length === 0) {
    return { image, layers: deltaOffsets(chain), build: "cached" };
  }
  const entries = plan.changed.length + plan.whiteouts.length;
  if (!deltaFits(chain, entries, limits)) return undefined;
  options.onProgress?.(
    `updating the image of ${walk.root}: ${plan.changed.length} changed, ` +
      `${plan.whiteouts.length} deleted`,
  );
  const stage = `${dir}/stage-${crypto.randomUUID()}.tmp`;
  const temp = `${dir}/layer-${crypto.randomUUID()}.tmp`;
  try {
    await Deno.mkdir(stage, { mode: 0o700 });
    if (!await stageDelta(walk.root, walk.records, plan, stage)) return undefined;
    await mkfsErofs([...owner, temp, stage], walk.root);
    const bytes = (await Deno.stat(temp)).size;
    if (!deltaBytesFit(chain, bytes, limits)) return undefined;
    const offset = nextOffset(chain);
    await appendLayer(image, offset, temp);
    const next: LayerChain = {
      ...chain,
      layers: [...chain.layers, { key, offset, bytes, entries }],
    };
    await writeChain(dir, next, baselineFile);
    return { image, layers: deltaOffsets(next), build: "delta" };
  } catch {
    return undefined; // a delta is an optimisation: the whole tree is packed instead
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    await Deno.remove(temp).catch(() => {});
  }
}

/** Pack the whole tree into a new image, the first layer of a new chain. */
async function packImage(
  dir: string,
  key: string,
  owner: string[],
  excludeArgs: string[],
  walk: TreeWalk,
  baselineFile: string,
  options: ShareOptions,
): Promise<LowerImage> {
  const size = treeSize(walk.records);
  const limit = options.largeTree ?? { entries: LARGE_TREE_ENTRIES, bytes: LARGE_TREE_BYTES };
  const large = size.entries > limit.entries || size.bytes > limit.bytes;
  options.onProgress?.(
    `packing ${walk.root} (${size.entries} entries, ${formatBytes(size.bytes)})` +
      (large
        ? `: a large tree; leave parts out with share.exclude in .agentbox.toml ` +
          `(e.g. exclude = ["node_modules/", "target/"]) or share a smaller directory`
        : ""),
  );
  const name = `${crypto.randomUUID()}.erofs`;
  const image = `${dir}/${name}`;
  const temp = `${image}.tmp`;
  const watch = setInterval(() => {
    Deno.stat(temp).then((info) => {
      const fraction = size.bytes > 0 ? Math.min(info.size / size.bytes, 1) : undefined;
      options.onStep?.(
        `packing ${formatBytes(info.size)} of ~${formatBytes(size.bytes)}`,
        fraction,
      );
    }, () => {});
  }, 500);
  try {
    await mkfsErofs([...owner, ...excludeArgs, temp, walk.root], walk.root);
    await Deno.rename(temp, image);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  } finally {
    clearInterval(watch);
  }
  const bytes = (await Deno.stat(image)).size;
  const chain: LayerChain = {
    format: 1,
    image: name,
    owner,
    layers: [{ key, offset: 0, bytes, entries: size.entries }],
  };
  // Older images of the same directory are stale now: writeChain removes them.
  await writeChain(dir, chain, baselineFile);
  return { image, layers: [], build: "packed" };
}

function mkfsErofs(args: string[], root: string): Promise<string> {
  return runCommand("mkfs.erofs", ["--quiet", "-x-1", ...args], {
    missingHint: "install erofs-utils",
    env: helperEnv(),
    makeError: (message, errorOptions) =>
      new ShareError(`Cannot pack ${root} for the VM: ${message}`, errorOptions),
  });
}

/** Temporary images a killed pack left (the caller holds the directory's lock: none is live). */
async function removeLeftovers(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".tmp")) {
      await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
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
