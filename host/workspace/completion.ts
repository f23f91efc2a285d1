/**
 * The completion record, `<session>/workspace/applied.json`: which paths of which changeset an
 * apply already brought to the host, so applying the same changeset again is a no-op for them
 * (`{"changeset": "<sha256>", "paths": [...]}`).
 *
 * @module
 */

import { syncDir } from "./journal.ts";

/**
 * The paths of `changeset` recorded as applied in `file`; empty when the file is missing or
 * belongs to another changeset.
 *
 * @example
 * ```ts
 * import { readCompletion } from "./completion.ts";
 * console.assert((await readCompletion("/nonexistent.json", "abc")).size === 0);
 * ```
 */
export async function readCompletion(file: string, changeset: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Set();
    throw error;
  }
  const data = JSON.parse(text) as { changeset?: unknown; paths?: unknown };
  if (data.changeset !== changeset || !Array.isArray(data.paths)) return new Set();
  return new Set(data.paths.filter((p): p is string => typeof p === "string"));
}

/**
 * Add `paths` to the record of `changeset` in `file` (replacing a record of another changeset),
 * atomically: temporary file, fsync, rename, fsync of the directory.
 *
 * @example
 * ```ts
 * import { recordCompletion } from "./completion.ts";
 * const file = `${await Deno.makeTempDir()}/applied.json`;
 * await recordCompletion(file, "abc", ["src/a.ts"]);
 * ```
 */
export async function recordCompletion(
  file: string,
  changeset: string,
  paths: readonly string[],
): Promise<void> {
  const all = await readCompletion(file, changeset);
  for (const path of paths) all.add(path);
  await writeCompletion(file, changeset, all);
}

async function writeCompletion(file: string, changeset: string, all: Set<string>): Promise<void> {
  const temp = `${file}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const text = JSON.stringify({ changeset, paths: [...all].sort() });
  await Deno.writeTextFile(temp, text, { createNew: true, mode: 0o600 });
  using handle = await Deno.open(temp, { read: true });
  await handle.sync();
  await Deno.rename(temp, file);
  await syncDir(file.slice(0, file.lastIndexOf("/")) || "/");
}

/**
 * Remove `paths` from the record of `changeset` in `file` (after `apply --undo`), atomically.
 *
 * @example
 * ```ts
 * import { forgetCompletion, readCompletion, recordCompletion } from "./completion.ts";
 * const file = `${await Deno.makeTempDir()}/applied.json`;
 * await recordCompletion(file, "abc", ["a", "b"]);
 * await forgetCompletion(file, "abc", ["a"]);
 * console.assert([...await readCompletion(file, "abc")].join() === "b");
 * ```
 */
export async function forgetCompletion(
  file: string,
  changeset: string,
  paths: readonly string[],
): Promise<void> {
  const all = await readCompletion(file, changeset);
  if (all.size === 0) return;
  for (const path of paths) all.delete(path);
  await writeCompletion(file, changeset, all);
}

/**
 * Carry the record of what was applied from changeset `previous` over to a new collection of the
 * same session, `next` (a live diff, the next stop): a path stays applied when its record is the
 * same in both (the guest has not touched it since the apply), so the next diff still marks it
 * applied and the next apply leaves it alone — also when the user edited it on the host since.
 * Does nothing when nothing of `previous` was applied. `file` is the completion record
 * (`applied.json`).
 *
 * @example
 * ```ts
 * import { carryCompletion } from "./completion.ts";
 * const file = `${await Deno.makeTempDir()}/applied.json`;
 * await carryCompletion(file, { id: "old", records: [] }, { id: "new", records: [] });
 * ```
 */
export async function carryCompletion(
  file: string,
  previous: { id: string; records: readonly { path: string }[] },
  next: { id: string; records: readonly { path: string }[] },
): Promise<void> {
  const applied = await readCompletion(file, previous.id);
  if (applied.size === 0 || previous.id === next.id) return;
  const before = new Map(previous.records.map((r) => [r.path, JSON.stringify(r)]));
  const carried = new Set(
    next.records.filter((r) => applied.has(r.path) && before.get(r.path) === JSON.stringify(r))
      .map((r) => r.path),
  );
  await writeCompletion(file, next.id, carried);
}
