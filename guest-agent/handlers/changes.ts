/**
 * `changes.start`: scan an overlay's upper layer — the workspace's, or with `scope: "system"` the
 * root filesystem's — and send every change on fd 1 of the stream as a changes stream
 * (protocol/changes_stream.ts), then `changes.done`. `scope: "system-base"` sends the named
 * entries as the image has them instead (the "before" of `agentbox diff --system`).
 *
 * @module
 */

import type { ChangesStart, StreamPort } from "@agentbox/protocol";
import { encodeChangeEntry, ProtocolError } from "@agentbox/protocol";
import {
  LOWER_DIR,
  ROOT_LOWER_DIR,
  ROOT_RW_DIR,
  ROOT_UPPER_DIR,
  UPPER_DIR,
  WORKSPACE_DIR,
} from "../workspace/layout.ts";
import {
  addOwner,
  type OverlayDirs,
  type ScanOptions,
  scanOverlay,
  type UpperRecord,
} from "../workspace/scan_overlay.ts";
import { BatchWriter, sendContent } from "./entry_writer.ts";

const DEFAULT_DIRS: OverlayDirs = { upper: UPPER_DIR, lower: LOWER_DIR, merged: WORKSPACE_DIR };

/** The root filesystem's overlay, as stage 1 leaves it (image/stage1.ts). */
export const ROOT_DIRS: OverlayDirs = { upper: ROOT_UPPER_DIR, lower: ROOT_LOWER_DIR, merged: "" };

/** Never part of the system's changes: where the root overlay's own layers are mounted. */
const ALWAYS_SKIPPED = [ROOT_RW_DIR.slice(1), ROOT_LOWER_DIR.slice(1)];

/**
 * Send the changes of the overlay at `dirs` (default: the shared workspace). Throws
 * `no_workspace` synchronously-ish (before anything is sent) when there is none.
 */
export async function sendChanges(
  conn: StreamPort,
  start: ChangesStart,
  dirs?: OverlayDirs,
): Promise<void> {
  const scope = start.scope ?? "workspace";
  const chosen = dirs ?? (scope === "workspace" ? DEFAULT_DIRS : ROOT_DIRS);
  if (!(await isDirectory(chosen.upper))) {
    throw scope === "workspace"
      ? new ProtocolError("no_workspace", "No workspace is shared with this VM")
      : new ProtocolError("no_root_overlay", "This image does not expose its root overlay");
  }
  const entries = scope === "system-base"
    ? baseEntries(chosen, start.paths ?? [])
    : scanOverlay(merged(chosen), scanOptions(start));
  const out = new BatchWriter(conn.transmit(start.stream, 1).getWriter());
  let count = 0;
  try {
    for await (const { record, contentPath } of entries) {
      await out.add(encodeChangeEntry(record));
      count++;
      if (record.type === "file") await sendContent(out, contentPath!, record.size);
    }
    await out.close();
  } catch (error) {
    await out.abort(error).catch(() => {});
    throw error;
  }
  conn.forget(start.stream);
  await conn.send({ type: "changes.done", stream: start.stream, entries: count });
}

/** The root overlay's merged view is `/`: `merged: ""` joins to absolute paths. */
function merged(dirs: OverlayDirs): OverlayDirs {
  return dirs.merged === "" ? { ...dirs, merged: "/" } : dirs;
}

function scanOptions(start: ChangesStart): ScanOptions {
  if (start.scope !== "system") return {};
  const prefixes = [...ALWAYS_SKIPPED, ...(start.exclude ?? [])]
    .map((p) => p.replace(/^\/+|\/+$/g, ""))
    .filter((p) => p !== "");
  return {
    owners: true,
    skip: (path) => prefixes.some((p) => path === p || path.startsWith(`${p}/`)),
  };
}

/**
 * The entries `paths` name as the lower layer has them: files (with their content), directories
 * and symlinks, with owners; a name it lacks, or that is not a clean relative path, is left out.
 */
async function* baseEntries(
  dirs: OverlayDirs,
  paths: string[],
): AsyncGenerator<{ record: UpperRecord; contentPath?: string }> {
  for (const path of [...new Set(paths)].sort()) {
    if (path.split("/").some((part) => part === "" || part === "." || part === "..")) continue;
    if (path.includes("\0")) continue;
    const full = `${dirs.lower}/${path}`;
    const info = await Deno.lstat(full).catch(() => undefined);
    if (!info) continue;
    const mode = (info.mode ?? 0) & 0o7777;
    let record: UpperRecord;
    if (info.isFile) record = { path, type: "file", mode, size: info.size };
    else if (info.isDirectory) record = { path, type: "dir", mode };
    else if (info.isSymlink) record = { path, type: "symlink", target: Deno.readLinkSync(full) };
    else continue;
    addOwner(record, full);
    yield { record, contentPath: record.type === "file" ? full : undefined };
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isDirectory, () => false);
}
