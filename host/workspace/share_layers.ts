/**
 * A share's lower disk as a chain of layers: one cached file per shared directory holding a full
 * erofs image of the tree at offset 0, followed by small erofs *delta* images, each at a 4 KiB
 * aligned offset, each holding only what changed since the layer below it. The guest mounts the
 * image and each delta (through a read-only loop device at its offset) and stacks them as the
 * overlay's lower directories, newest first (image/stage2.ts, `mount-workspace`).
 *
 * A delta is made from the baselines of the tree before and after (lstat facts, as the cache key
 * is): every entry that is new or whose facts changed is put in the delta as it is on the host;
 * every entry that is gone becomes a whiteout (a character device 0:0, which mknod makes without
 * privileges since Linux 5.8) unless its parent went too; the directories above a changed entry
 * are in the delta with their current mode and mtime. That alone makes the merged view exact, so
 * no directory needs the overlay's opaque attribute (which only root could set on the staging
 * tree): a directory that replaced another is merged with the old one's entries, and each of those
 * is either the same on the host or whited out; a directory over what was a file or symlink hides
 * it (overlayfs stops looking below a directory at a non-directory).
 *
 * Deltas are appended to the cached file, never written over what a session may be reading: a
 * session records the offsets of the layers it started with, and a later append or compaction does
 * not change them. `chain.json` in the cache directory says which layers the file holds; it is
 * replaced atomically after the layer is on disk, with the baseline of the topmost layer (which
 * the next delta is made against) written first, under its own name.
 *
 * @module
 */

import { helperEnv } from "../helper_env.ts";
import { runCommand } from "../run_command.ts";
import { type BaselineEntry, pathProblem } from "./changeset.ts";
import { readBaselineRecords } from "./baseline.ts";
import {
  type BaselineRecords,
  recordEntry,
  recordType,
  type TreeRecords,
} from "./baseline_records.ts";

/** One layer of a chain: the full image (the first) or a delta. */
export interface ChainLayer {
  /** The cache key of the tree as of this layer (share.ts, `lowerImage`). */
  key: string;
  /** Byte offset of the layer in the chain's file. */
  offset: number;
  /** Bytes of the layer's erofs image. */
  bytes: number;
  /** Entries the layer holds (the whole tree for the first, changes and whiteouts for a delta). */
  entries: number;
}

/** `chain.json`: the layers of a shared directory's cached lower disk. */
export interface LayerChain {
  format: 1;
  /** The file (in the cache directory) holding the layers. */
  image: string;
  /** The owner arguments the layers were packed with (`--force-uid=…`): a delta must match. */
  owner: string[];
  /** Oldest (the full image) first. */
  layers: ChainLayer[];
}

/** When the layers are compacted into one full image again. */
export interface LayerLimits {
  /** Most delta layers over the image (default {@linkcode MAX_DELTA_LAYERS}). */
  maxDeltas: number;
  /**
   * Most bytes of all deltas together, as a fraction of the image's (default
   * {@linkcode MAX_DELTA_SHARE}); also the most entries, as a fraction of the image's.
   */
  maxShare: number;
}

/** Default most delta layers over a full image: six, then the next change re-packs the tree. */
export const MAX_DELTA_LAYERS = 6;

/** Default most size of the deltas relative to the image they sit on: a quarter. */
export const MAX_DELTA_SHARE = 0.25;

/** Limits under which every change packs the tree whole (for an image that cannot mount deltas). */
export const NO_DELTA_LAYERS: LayerLimits = { maxDeltas: 0, maxShare: 0 };

/** Deltas this small together are never too large for their image: 1 MiB. */
export const SMALL_DELTA_BYTES = 1024 ** 2;

/** Alignment of a layer in the chain's file (the erofs block size). */
export const LAYER_ALIGN = 4096;

const CHAIN_FILE = "chain.json";

/** What a delta holds, from {@linkcode planDelta}. */
export interface DeltaPlan {
  /** Paths put in the delta as the host has them, sorted (parents first). */
  changed: string[];
  /** Paths whose deletion the delta records. */
  whiteouts: string[];
  /** Bytes of regular files among `changed`. */
  bytes: number;
}

/**
 * The delta from tree `before` to tree `after` (their records, baseline_records.ts), or
 * `undefined` when it holds an entry a delta cannot carry (a fifo, socket or device: only a full
 * pack copies those). Records are compared as strings: only a changed one is parsed.
 *
 * @example
 * ```ts
 * import { planDelta } from "./share_layers.ts";
 * const a = "f 644 1 1.000 1 a", b = "f 644 1 1.000 2 b";
 * const plan = planDelta(new Map([["a", a], ["b", b]]), new Map([["a", "f 644 2 1.000 1 a"]]));
 * console.assert(plan?.changed[0] === "a" && plan.whiteouts[0] === "b");
 * ```
 */
export function planDelta(before: TreeRecords, after: TreeRecords): DeltaPlan | undefined {
  const changed: string[] = [];
  const whiteouts: string[] = [];
  let bytes = 0;
  // Paths of `before` still there: when that is all of them, nothing was deleted.
  let kept = 0;
  for (const [path, now] of after) {
    const was = before.get(path);
    if (was !== undefined) kept++;
    if (was === now) continue;
    const type = recordType(now);
    if (type === "other") return undefined;
    changed.push(path);
    if (type === "file") {
      const entry = recordEntry(now);
      if (entry === undefined) return undefined;
      bytes += entry.size;
    }
  }
  if (kept < before.size) {
    for (const path of before.keys()) {
      if (after.has(path)) continue;
      const slash = path.lastIndexOf("/");
      // Under a directory that went too (or became a file), the top-most deletion covers it.
      if (slash >= 0) {
        const parent = after.get(path.slice(0, slash));
        if (parent === undefined || recordType(parent) !== "dir") continue;
      }
      if (pathProblem(path) !== undefined) return undefined;
      whiteouts.push(path);
    }
  }
  changed.sort();
  return { changed, whiteouts, bytes };
}

/**
 * Whether adding a delta of `entries` entries to `chain` is still cheaper than a full image:
 * fewer than `limits.maxDeltas` deltas so far, and the deltas' entries within `limits.maxShare`
 * of the image's.
 *
 * @example
 * ```ts
 * import { deltaFits, MAX_DELTA_LAYERS, MAX_DELTA_SHARE } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * deltaFits(chain, 12, { maxDeltas: MAX_DELTA_LAYERS, maxShare: MAX_DELTA_SHARE });
 * ```
 */
export function deltaFits(chain: LayerChain, entries: number, limits: LayerLimits): boolean {
  const [image, ...deltas] = chain.layers;
  if (deltas.length >= limits.maxDeltas) return false;
  const total = deltas.reduce((n, layer) => n + layer.entries, entries);
  return total <= image.entries * limits.maxShare;
}

/**
 * Whether the deltas of `chain` (with one more of `bytes`) are within `limits.maxShare` of the
 * image's bytes, or within {@linkcode SMALL_DELTA_BYTES} (an image of a small tree is not much
 * larger than a delta's own metadata).
 *
 * @example
 * ```ts
 * import { deltaBytesFit } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * deltaBytesFit(chain, 8192, { maxDeltas: 6, maxShare: 0.25 });
 * ```
 */
export function deltaBytesFit(chain: LayerChain, bytes: number, limits: LayerLimits): boolean {
  const [image, ...deltas] = chain.layers;
  const total = deltas.reduce((n, layer) => n + layer.bytes, bytes);
  return total <= Math.max(image.bytes * limits.maxShare, SMALL_DELTA_BYTES);
}

/**
 * Make the staging tree of `plan` in `stage` (an empty directory): changed entries as the host
 * has them under `root` (files hard-linked, copied where a link is refused), directories above
 * them with their baseline mode and mtime, whiteouts as character devices 0:0. Returns `false`
 * when an entry is no longer what the baseline says it was (the caller packs the whole tree).
 *
 * @example
 * ```ts
 * import { planDelta, stageDelta } from "./share_layers.ts";
 * declare const before: import("./baseline.ts").TreeWalk, after: typeof before;
 * const plan = planDelta(before.records, after.records)!;
 * await stageDelta(after.root, after.records, plan, "/cache/stage");
 * ```
 */
export async function stageDelta(
  root: string,
  records: TreeRecords,
  plan: DeltaPlan,
  stage: string,
): Promise<boolean> {
  const entries = new Map<string, BaselineEntry>();
  const entryOf = (path: string): BaselineEntry => {
    let entry = entries.get(path);
    if (entry === undefined) {
      entry = recordEntry(records.get(path) ?? "");
      if (entry === undefined) throw new Error(`no baseline record of ${path}`);
      entries.set(path, entry);
    }
    return entry;
  };
  const dirs = new Set<string>();
  const ensureParents = (path: string) => {
    const parts = path.split("/");
    let dir = "";
    for (let i = 0; i < parts.length - 1; i++) {
      dir = dir === "" ? parts[i] : `${dir}/${parts[i]}`;
      if (dirs.has(dir)) continue;
      Deno.mkdirSync(`${stage}/${dir}`, { mode: 0o700 });
      dirs.add(dir);
    }
  };
  for (const path of plan.changed) {
    const from = `${root}/${path}`;
    const to = `${stage}/${path}`;
    try {
      const entry = entryOf(path);
      ensureParents(path);
      if (entry.type === "dir") {
        if (!dirs.has(path)) Deno.mkdirSync(to, { mode: 0o700 });
        dirs.add(path);
      } else if (entry.type === "symlink") {
        Deno.symlinkSync(Deno.readLinkSync(from), to);
      } else {
        linkOrCopy(from, to, entry);
      }
    } catch {
      return false; // gone or changed since the baseline: pack the tree as it is now
    }
  }
  const whiteouts = plan.whiteouts.map((path) => {
    ensureParents(path);
    return `${stage}/${path}`;
  });
  for (let i = 0; i < whiteouts.length; i += 1000) {
    await runCommand(
      "sh",
      ["-c", 'for p; do mknod "$p" c 0 0 || exit 1; done', "sh", ...whiteouts.slice(i, i + 1000)],
      { env: helperEnv() },
    );
  }
  // Modes and mtimes last, deepest first: a read-only directory is filled before it is closed,
  // and filling a directory sets its mtime.
  for (const dir of [...dirs].sort().reverse()) {
    const entry = entries.get(dir) ?? recordEntry(records.get(dir) ?? "");
    if (entry === undefined) return false;
    Deno.chmodSync(`${stage}/${dir}`, entry.mode);
    Deno.utimeSync(`${stage}/${dir}`, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
  }
  const top = Deno.statSync(root);
  Deno.chmodSync(stage, (top.mode ?? 0o755) & 0o7777);
  if (top.mtime) Deno.utimeSync(stage, top.mtime, top.mtime);
  return true;
}

function linkOrCopy(from: string, to: string, entry: BaselineEntry): void {
  try {
    Deno.linkSync(from, to);
    return;
  } catch {
    // another file system, or a file of another user (fs.protected_hardlinks)
  }
  Deno.copyFileSync(from, to);
  Deno.chmodSync(to, entry.mode);
  Deno.utimeSync(to, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
}

/**
 * Write the erofs image at `layer` into the chain's file `image` at `offset` and flush it.
 *
 * @example
 * ```ts
 * import { appendLayer } from "./share_layers.ts";
 * await appendLayer("/cache/p/abc.erofs", 1048576, "/cache/p/delta.tmp");
 * ```
 */
export async function appendLayer(image: string, offset: number, layer: string): Promise<void> {
  const bytes = await Deno.readFile(layer);
  using file = await Deno.open(image, { write: true });
  await file.seek(offset, Deno.SeekMode.Start);
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
  await file.syncData();
}

/**
 * Where the next layer of `chain` starts: the end of its topmost layer, aligned.
 *
 * @example
 * ```ts
 * import { nextOffset } from "./share_layers.ts";
 * const chain = { format: 1 as const, image: "a.erofs", owner: [],
 *   layers: [{ key: "k", offset: 0, bytes: 5000, entries: 3 }] };
 * console.assert(nextOffset(chain) === 8192);
 * ```
 */
export function nextOffset(chain: LayerChain): number {
  const top = chain.layers[chain.layers.length - 1];
  return Math.ceil((top.offset + top.bytes) / LAYER_ALIGN) * LAYER_ALIGN;
}

/**
 * The offsets of `chain`'s deltas (what the guest mounts above the image at offset 0).
 *
 * @example
 * ```ts
 * import { deltaOffsets } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * console.log(deltaOffsets(chain)); // e.g. [1052672, 1060864]
 * ```
 */
export function deltaOffsets(chain: LayerChain): number[] {
  return chain.layers.slice(1).map((layer) => layer.offset);
}

/**
 * The chain of the cache directory `dir`, or `undefined` when there is none (or an unreadable
 * one: the next pack replaces it).
 *
 * @example
 * ```ts
 * import { readChain } from "./share_layers.ts";
 * const chain = await readChain("/cache/agentbox/shares/0123456789abcdef");
 * ```
 */
export async function readChain(dir: string): Promise<LayerChain | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(`${dir}/${CHAIN_FILE}`));
  } catch {
    return undefined;
  }
  const c = raw as Record<string, unknown>;
  if (typeof c !== "object" || c === null || c.format !== 1) return undefined;
  if (typeof c.image !== "string" || !/^[0-9a-f-]+\.erofs$/.test(c.image)) return undefined;
  if (!Array.isArray(c.owner) || !c.owner.every((a) => typeof a === "string")) return undefined;
  if (!Array.isArray(c.layers) || c.layers.length === 0) return undefined;
  const layers = c.layers as ChainLayer[];
  const ok = layers.every((l, i) =>
    typeof l === "object" && l !== null && typeof l.key === "string" &&
    /^[0-9a-f]{64}$/.test(l.key) && Number.isSafeInteger(l.offset) &&
    l.offset % LAYER_ALIGN === 0 && (i === 0 ? l.offset === 0 : l.offset > 0) &&
    Number.isSafeInteger(l.bytes) && l.bytes > 0 && Number.isSafeInteger(l.entries)
  );
  return ok ? { format: 1, image: c.image, owner: c.owner as string[], layers } : undefined;
}

/**
 * Record `chain` in `dir` with `topFile`, the `baseline.json` of its topmost layer: the baseline
 * is linked (copied across file systems) first under the topmost layer's key, then `chain.json`
 * is replaced atomically.
 *
 * @example
 * ```ts
 * import { writeChain } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * await writeChain("/cache/shares/0123456789abcdef", chain, "/state/s/workspace/baseline.json");
 * ```
 */
export async function writeChain(dir: string, chain: LayerChain, topFile: string): Promise<void> {
  const linked = `${dir}/top-${crypto.randomUUID()}.tmp`;
  try {
    try {
      await Deno.link(topFile, linked);
    } catch {
      await Deno.copyFile(topFile, linked);
    }
    await Deno.rename(linked, topBaselinePath(dir, chain));
  } catch (error) {
    await Deno.remove(linked).catch(() => {});
    throw error;
  }
  const temp = `${dir}/${CHAIN_FILE}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, JSON.stringify(chain), { mode: 0o600, createNew: true });
    await Deno.rename(temp, `${dir}/${CHAIN_FILE}`);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  // What older chains left: images and baselines no layer of this one names.
  const keep = new Set([chain.image, topBaselinePath(dir, chain).slice(dir.length + 1)]);
  for await (const entry of Deno.readDir(dir)) {
    const stale = entry.name.endsWith(".erofs") || /^top-[0-9a-f]{64}\.json$/.test(entry.name);
    if (stale && !keep.has(entry.name)) await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
  }
}

/**
 * The baseline records of `chain`'s topmost layer, or `undefined` when they cannot be read (or are
 * of the JSON format before records: the tree is packed whole again then).
 *
 * @example
 * ```ts
 * import { readChainTop } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * const before = await readChainTop("/cache/agentbox/shares/0123456789abcdef", chain);
 * ```
 */
export function readChainTop(
  dir: string,
  chain: LayerChain,
): Promise<BaselineRecords | undefined> {
  return readBaselineRecords(topBaselinePath(dir, chain));
}

/**
 * The baseline file of `chain`'s topmost layer (it may be missing).
 *
 * @example
 * ```ts
 * import { topBaselinePath } from "./share_layers.ts";
 * declare const chain: import("./share_layers.ts").LayerChain;
 * console.log(topBaselinePath("/cache/agentbox/shares/0123456789abcdef", chain));
 * ```
 */
export function topBaselinePath(dir: string, chain: LayerChain): string {
  return `${dir}/top-${chain.layers[chain.layers.length - 1].key}.json`;
}
