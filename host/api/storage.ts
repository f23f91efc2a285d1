/**
 * What agentbox keeps on disk, and collecting what nothing uses any more: `agentbox system df`
 * and the files half of `agentbox prune`. Sessions themselves (their rows and state directories)
 * are removed by `pruneSessions` (sessions.ts); this module finds the rest — state directories no
 * listed session owns (left by a crash between steps, or by an older agentbox), and share caches
 * (packed lower images) of projects no remaining session belongs to.
 *
 * @module
 */

import { imagesDir } from "../../image/store.ts";
import { cacheDir, stateDir } from "../paths.ts";
import { defaultDatabasePath } from "../store/database.ts";
import { shareCacheDir, shareCacheKey } from "../workspace/share.ts";
import { templatesDir } from "../vm/template.ts";
import type { ApiContext } from "./context.ts";
import { isAlive, listSessions } from "./sessions.ts";

/** One line of {@linkcode diskUsage}. */
export interface DiskUsageRow {
  /** What it is. */
  what: "images" | "templates" | "sessions" | "share caches" | "package cache" | "database";
  /** Where it lives. */
  path: string;
  /** Entries (images, sessions, cache folders…). */
  count: number;
  /** Bytes on disk (allocated blocks: sparse upper disks count what they hold). */
  bytes: number;
  /** Of those, what `agentbox prune` would remove. */
  reclaimableBytes: number;
}

/** Allocated bytes under `path` (a file or a directory tree; symlinks not followed). */
async function allocated(path: string): Promise<number> {
  const info = await Deno.lstat(path).catch(() => undefined);
  if (!info) return 0;
  const own = (info.blocks ?? 0) * 512;
  if (!info.isDirectory) return own;
  let total = own;
  for await (const entry of Deno.readDir(path)) total += await allocated(`${path}/${entry.name}`);
  return total;
}

/** The names in directory `dir` (none when it is missing). */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/** A file or folder `prune` would remove, and why. */
export interface Reclaimable {
  path: string;
  bytes: number;
  reason: "orphaned session files" | "unused share cache";
}

/**
 * What the files half of `prune` would remove, with `olderThanMs` sparing what was modified
 * more recently: session state directories no listed session owns, and share caches no live
 * session is using (a cache only saves the next run of its project a re-pack; a detached
 * session keeps its own link to the image it booted on). Ended sessions themselves are
 * `pruneSessions`'s.
 */
export async function reclaimableFiles(
  ctx: Pick<ApiContext, "db">,
  options: { olderThanMs?: number } = {},
): Promise<Reclaimable[]> {
  const sessions = await listSessions(ctx, { all: true });
  const cutoff = Date.now() - (options.olderThanMs ?? 0);
  const old = async (path: string) =>
    ((await Deno.lstat(path).catch(() => undefined))?.mtime?.getTime() ?? 0) <= cutoff;
  const found: Reclaimable[] = [];
  const ids = new Set(sessions.map((s) => s.id));
  const sessionsDir = `${stateDir()}/sessions`;
  for (const name of await names(sessionsDir)) {
    const path = `${sessionsDir}/${name}`;
    if (ids.has(name) || !await old(path)) continue;
    found.push({ path, bytes: await allocated(path), reason: "orphaned session files" });
  }
  // A cache entry serves a project; keep those a live session may still be reading.
  const used = new Set(
    sessions.filter((s) => s.project !== null && isAlive(s.state))
      .map((s) => shareCacheKey(s.project!)),
  );
  const shares = shareCacheDir();
  for (const name of await names(shares)) {
    const path = `${shares}/${name}`;
    if (used.has(name) || !await old(path)) continue;
    found.push({ path, bytes: await allocated(path), reason: "unused share cache" });
  }
  return found;
}

/**
 * Remove what {@linkcode reclaimableFiles} finds (or, with `dryRun`, only return it).
 *
 * @example
 * ```ts
 * import { pruneFiles } from "./storage.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * for (const r of await pruneFiles(ctx, { dryRun: true })) console.log(r.path, r.bytes);
 * ```
 */
export async function pruneFiles(
  ctx: Pick<ApiContext, "db">,
  options: { dryRun: boolean; olderThanMs?: number },
): Promise<Reclaimable[]> {
  const found = await reclaimableFiles(ctx, options);
  if (options.dryRun) return found;
  const removed: Reclaimable[] = [];
  for (const item of found) {
    // Renamed first, so a half-removed cache entry is never taken for a whole one.
    const doomed = `${item.path}.prune-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.rename(item.path, doomed);
    } catch {
      continue; // Gone or taken meanwhile.
    }
    await Deno.remove(doomed, { recursive: true });
    removed.push(item);
  }
  return removed;
}

/**
 * What agentbox keeps on disk, by kind, with what `agentbox prune` would free.
 *
 * @example
 * ```ts
 * import { diskUsage } from "./storage.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * for (const row of await diskUsage(ctx)) console.log(row.what, row.bytes);
 * ```
 */
export async function diskUsage(ctx: Pick<ApiContext, "db">): Promise<DiskUsageRow[]> {
  const sessions = await listSessions(ctx, { all: true });
  const reclaimable = await reclaimableFiles(ctx);
  const orphaned = (reason: Reclaimable["reason"]) =>
    reclaimable.filter((r) => r.reason === reason).reduce((sum, r) => sum + r.bytes, 0);
  const sessionsDir = `${stateDir()}/sessions`;
  let sessionBytes = 0, endedBytes = 0;
  for (const session of sessions) {
    const bytes = await allocated(`${sessionsDir}/${session.id}`);
    sessionBytes += bytes;
    if (!isAlive(session.state)) endedBytes += bytes;
  }
  const dirRow = async (what: DiskUsageRow["what"], path: string, reclaimableBytes = 0) => {
    const entries = (await names(path)).filter((n) => !n.startsWith("."));
    return { what, path, count: entries.length, bytes: await allocated(path), reclaimableBytes };
  };
  const db = defaultDatabasePath();
  return [
    await dirRow("images", imagesDir()),
    await dirRow("templates", templatesDir()),
    {
      what: "sessions",
      path: sessionsDir,
      count: sessions.length,
      bytes: sessionBytes + orphaned("orphaned session files"),
      reclaimableBytes: endedBytes + orphaned("orphaned session files"),
    },
    await dirRow("share caches", shareCacheDir(), orphaned("unused share cache")),
    await dirRow("package cache", `${cacheDir()}/debs`),
    {
      what: "database",
      path: db,
      count: 1,
      bytes: (await allocated(db)) + (await allocated(`${db}-wal`)),
      reclaimableBytes: 0,
    },
  ];
}
