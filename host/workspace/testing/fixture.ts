/**
 * Test fixtures: a host tree, a baseline of it, and a guest changeset on disk, laid out as a
 * session directory exactly as the transfer stores it.
 *
 * @module
 */

import { takeBaseline, writeBaseline } from "../baseline.ts";
import { changesetPaths } from "../changeset.ts";

/** A host tree: path → file content, `{ dir: true }`, `{ symlink }` or `{ content, mode }`. */
export type HostTree = Record<
  string,
  string | Uint8Array | { dir: true } | { symlink: string } | { content: string; mode: number }
>;

/** A guest change; files carry their content, which becomes a blob. */
export type GuestChange =
  | { path: string; type: "file"; content: string | Uint8Array; mode?: number }
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "deleted" }
  | { path: string; type: "unsupported"; detail: string };

/** Create `tree` under `root`. */
export async function makeHostTree(root: string, tree: HostTree): Promise<void> {
  for (const [path, spec] of Object.entries(tree)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof spec === "string" || spec instanceof Uint8Array) {
      await writeFile(full, spec, 0o644);
    } else if ("dir" in spec) await Deno.mkdir(full, { recursive: true });
    else if ("symlink" in spec) await Deno.symlink(spec.symlink, full);
    else await writeFile(full, spec.content, spec.mode);
  }
}

async function writeFile(path: string, content: string | Uint8Array, mode: number) {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  await Deno.writeFile(path, bytes);
  await Deno.chmod(path, mode);
}

/** Hex SHA-256 of bytes or text. */
export async function sha256Hex(content: string | Uint8Array): Promise<string> {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Write the baseline of `root` and `changes` (records.json + blobs) under `sessionDir`. */
export async function writeSession(
  sessionDir: string,
  root: string,
  changes: GuestChange[],
): Promise<void> {
  const paths = changesetPaths(sessionDir);
  await Deno.mkdir(paths.blobs, { recursive: true });
  await writeBaseline(paths.baseline, await takeBaseline(root));
  await writeChanges(sessionDir, changes);
}

/** Write `changes` as records.json + blobs under `sessionDir` (the baseline must exist). */
export async function writeChanges(sessionDir: string, changes: GuestChange[]): Promise<void> {
  const paths = changesetPaths(sessionDir);
  await Deno.mkdir(paths.blobs, { recursive: true });
  const records = [];
  for (const change of changes) {
    if (change.type !== "file") {
      records.push(change.type === "dir" ? { mode: 0o755, ...change } : change);
      continue;
    }
    const bytes = typeof change.content === "string"
      ? new TextEncoder().encode(change.content)
      : change.content;
    const sha256 = await sha256Hex(bytes);
    await Deno.writeFile(`${paths.blobs}/${sha256}`, bytes);
    records.push({
      path: change.path,
      type: "file",
      mode: change.mode ?? 0o644,
      size: bytes.length,
      sha256,
    });
  }
  await Deno.writeTextFile(paths.records, JSON.stringify(records));
}
