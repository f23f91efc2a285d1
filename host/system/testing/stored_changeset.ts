/**
 * Test support: store a system changeset the way a session does — through the real changes
 * stream receiver — from entries written here, so tests of the summary and the export start from
 * what a guest would have sent.
 *
 * @module
 */

import { encodeChangeEntry } from "@agentbox/protocol";
import { receiveChangeset } from "../../workspace/receive_changeset.ts";
import { systemChangesetPaths } from "../system_changeset.ts";

/** One entry as a guest sends it; `content` for files (its size is taken from it). */
export type FixtureEntry =
  | {
    path: string;
    type: "file";
    content: string | Uint8Array;
    mode?: number;
    uid?: number;
    gid?: number;
  }
  | { path: string; type: "dir"; mode?: number; uid?: number; gid?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "deleted" }
  | { path: string; type: "unsupported"; detail: string };

/** The changes stream of `entries`. */
export function changesStream(entries: FixtureEntry[]): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry.type === "file") {
      const bytes = typeof entry.content === "string"
        ? new TextEncoder().encode(entry.content)
        : entry.content;
      const { content: _, ...rest } = entry;
      chunks.push(
        encodeChangeEntry({ mode: 0o644, uid: 0, gid: 0, ...rest, size: bytes.length }),
        bytes,
      );
    } else if (entry.type === "dir") {
      chunks.push(encodeChangeEntry({ mode: 0o755, uid: 0, gid: 0, ...entry }));
    } else {
      chunks.push(encodeChangeEntry({ uid: 0, gid: 0, ...entry }));
    }
  }
  return ReadableStream.from(chunks);
}

/** Store `changes` and `base` as the system changeset of the session directory `dir`. */
export async function storeSystemChangeset(
  dir: string,
  changes: FixtureEntry[],
  base: FixtureEntry[],
): Promise<void> {
  const paths = systemChangesetPaths(dir);
  await Deno.mkdir(paths.root, { recursive: true });
  await receiveChangeset(changesStream(changes), paths.changes);
  await receiveChangeset(changesStream(base), paths.base);
}
