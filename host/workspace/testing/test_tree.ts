/**
 * Test helpers for the apply tests: build a changeset on disk, take a baseline with a plain lstat
 * walk (the product's baseline module is separate), and snapshot a tree for byte-exact
 * comparison.
 *
 * @module
 */

import { baselineEntry } from "../baseline.ts";
import { createHash } from "node:crypto";
import type { Baseline, UpperRecord } from "../changeset.ts";
import { changesetPaths } from "../changeset.ts";

/** A record to put in a test changeset; files carry their content instead of a hash. */
export type TestRecord =
  | { path: string; type: "file"; content: string | Uint8Array; mode?: number }
  | Exclude<UpperRecord, { type: "file" }>;

/** Temp project dir and session dir, with paths of the changeset files. */
export interface TestCase {
  root: string;
  session: string;
  blobs: string;
  journalDir: string;
  completionFile: string;
}

/**
 * Fresh temporary project and session directories.
 *
 * @example
 * ```ts
 * import { makeCase } from "./test_tree.ts";
 * const c = await makeCase();
 * console.log(c.root);
 * ```
 */
export async function makeCase(): Promise<TestCase> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "apply-test-" }));
  const root = `${base}/project`;
  const session = `${base}/session`;
  await Deno.mkdir(root);
  const paths = changesetPaths(session);
  await Deno.mkdir(paths.blobs, { recursive: true });
  return {
    root,
    session,
    blobs: paths.blobs,
    journalDir: `${paths.root}/apply-journal`,
    completionFile: `${paths.root}/applied.json`,
  };
}

/**
 * Write the blobs of `records` into `blobs` and return the changeset's records.
 *
 * @example
 * ```ts
 * import { writeChangeset } from "./test_tree.ts";
 * const records = await writeChangeset(await Deno.makeTempDir(), [
 *   { path: "a.txt", type: "file", content: "hi\n" },
 * ]);
 * ```
 */
export async function writeChangeset(
  blobs: string,
  records: readonly TestRecord[],
): Promise<UpperRecord[]> {
  const out: UpperRecord[] = [];
  for (const r of records) {
    if (r.type !== "file") {
      out.push(r);
      continue;
    }
    const bytes = typeof r.content === "string" ? new TextEncoder().encode(r.content) : r.content;
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await Deno.writeFile(`${blobs}/${sha256}`, bytes);
    out.push({ path: r.path, type: "file", mode: r.mode ?? 0o644, size: bytes.length, sha256 });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * Write files (string content), directories (`null`) and symlinks (`{ link }`) under `root`.
 *
 * @example
 * ```ts
 * import { writeTree } from "./test_tree.ts";
 * await writeTree(await Deno.makeTempDir(), { "a/b.txt": "x", "c": null, "l": { link: "a" } });
 * ```
 */
export async function writeTree(
  root: string,
  tree: Record<string, string | null | { link: string }>,
): Promise<void> {
  for (const [path, value] of Object.entries(tree)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (value === null) await Deno.mkdir(full, { recursive: true });
    else if (typeof value === "string") await Deno.writeTextFile(full, value);
    else await Deno.symlink(value.link, full);
  }
}

/**
 * A baseline of `root` by lstat walk (symlinks not followed).
 *
 * @example
 * ```ts
 * import { takeTestBaseline } from "./test_tree.ts";
 * const b = await takeTestBaseline(await Deno.realPath(await Deno.makeTempDir()));
 * ```
 */
export async function takeTestBaseline(root: string): Promise<Baseline> {
  const entries: Baseline["entries"] = {};
  for await (const path of walk(root, "")) {
    entries[path] = baselineEntry(await Deno.lstat(`${root}/${path}`));
  }
  return { root, takenAt: Date.now(), entries };
}

/**
 * Every entry of `root` as `path -> "file 644 <sha256>" | "dir 755" | "symlink -> target" | other`,
 * for comparing trees byte for byte.
 *
 * @example
 * ```ts
 * import { snapshot } from "./test_tree.ts";
 * console.log(await snapshot(await Deno.makeTempDir()));
 * ```
 */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const path of walk(root, "")) {
    const full = `${root}/${path}`;
    const info = await Deno.lstat(full);
    const mode = ((info.mode ?? 0) & 0o7777).toString(8);
    if (info.isSymlink) out[path] = `symlink -> ${await Deno.readLink(full)}`;
    else if (info.isDirectory) out[path] = `dir ${mode}`;
    else if (info.isFile) {
      const sha = createHash("sha256").update(await Deno.readFile(full)).digest("hex");
      out[path] = `file ${mode} ${sha}`;
    } else out[path] = `other ${mode}`;
  }
  return out;
}

async function* walk(root: string, rel: string): AsyncGenerator<string> {
  const dir = rel === "" ? root : `${root}/${rel}`;
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  for (const name of names.sort()) {
    const path = rel === "" ? name : `${rel}/${name}`;
    yield path;
    if ((await Deno.lstat(`${root}/${path}`)).isDirectory) yield* walk(root, path);
  }
}
