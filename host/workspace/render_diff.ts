/**
 * `agentbox diff` output: git-style patch, `--stat`, `--name-only` and `--json`. Every path and
 * every line of content came from the guest, so each output line has its terminal control
 * characters escaped before any colour is added; contents over {@linkcode MAX_PATCH_BYTES} are
 * summarised, not printed.
 *
 * @module
 */

import { type DiffEntry, type DiffSide, gitMode } from "./classify.ts";
import { readUnder } from "./host_file.ts";
import { unifiedDiff } from "./unified_diff.ts";
import { escapeControls, jsonSafe } from "../terminal_text.ts";

/** Largest file whose content a patch shows; larger files get a one-line summary. */
export const MAX_PATCH_BYTES = 1 << 20;

/** Version of the `--json` document; bumped only when a field changes meaning. */
export const DIFF_JSON_VERSION = 1;

/** Where contents are read from, and whether to colour. */
export interface RenderOptions {
  /** The host directory (old contents). */
  root: string;
  /** The changeset's `blobs/` directory (new contents). */
  blobs: string;
  color: boolean;
}

/**
 * The patch, one chunk of text per entry (each ending in a newline).
 *
 * @example
 * ```ts
 * import { renderPatch } from "./render_diff.ts";
 * const options = { root: "/p", blobs: "/b", color: false };
 * for await (const chunk of renderPatch([], options)) console.log(chunk);
 * ```
 */
export async function* renderPatch(
  entries: DiffEntry[],
  options: RenderOptions,
): AsyncGenerator<string> {
  for (const entry of entries) {
    const lines = await patchLines(entry, options);
    yield lines.map((line) => paint(escapeControls(line, { keep: "\t" }), options.color)).join(
      "\n",
    ) + "\n";
  }
}

/** Content of one side as text, or why it is not shown. */
export type Content = { text: string } | { large: number } | { binary: true } | { none: true };

async function patchLines(entry: DiffEntry, options: RenderOptions): Promise<string[]> {
  const warning = entry.hostChanged
    ? [`# warning: the host's ${entry.path} changed since the session started`]
    : [];
  if (entry.applied) {
    // The host has the new side now: its old content is gone, a diff against it would be empty.
    return [
      `diff --git a/${entry.path} b/${entry.path}`,
      ...modeLines(entry.old, entry.new),
      `# applied: the host already has this change`,
    ];
  }
  switch (entry.status) {
    case "unsupported":
      return [`# unsupported: ${entry.path} (${entry.detail}): cannot be applied`];
    case "type-changed": {
      const gone = await sideLines(entry, { ...entry, status: "deleted", new: undefined }, options);
      const added = await sideLines(entry, { ...entry, status: "added", old: undefined }, options);
      return [...warning, ...gone, ...added];
    }
    default:
      return [...warning, ...await sideLines(entry, entry, options)];
  }
}

/** The git-style block for `view` (an entry, or one half of a type change). */
async function sideLines(entry: DiffEntry, view: DiffEntry, options: RenderOptions) {
  const { path, old, new: now } = view;
  const lines = [`diff --git a/${path} b/${path}`, ...modeLines(old, now)];
  if (old?.type === "dir" || now?.type === "dir") return lines;
  if (view.status === "mode-changed") return lines;
  const before = await sideContent(entry, old, "old", options);
  const after = await sideContent(entry, now, "new", options);
  const a = old ? `a/${path}` : "/dev/null";
  const b = now ? `b/${path}` : "/dev/null";
  if ("large" in before || "large" in after) {
    const size = (c: Content) => ("large" in c ? c.large : "text" in c ? c.text.length : 0);
    return [
      ...lines,
      `Large files ${a} (${size(before)} bytes) and ${b} (${size(after)} bytes) differ, not shown`,
    ];
  }
  if ("binary" in before || "binary" in after) {
    return [...lines, `Binary files ${a} and ${b} differ`];
  }
  if ("none" in before) lines.push("# the host's old content cannot be read");
  const diff = unifiedDiff("text" in before ? before.text : "", "text" in after ? after.text : "");
  return diff.lines.length ? [...lines, `--- ${a}`, `+++ ${b}`, ...diff.lines] : lines;
}

function modeLines(old: DiffSide | undefined, now: DiffSide | undefined): string[] {
  if (!old && now) return [`new ${now.type === "dir" ? "directory" : "file"} mode ${modeOf(now)}`];
  if (old && !now) {
    return [`deleted ${old.type === "dir" ? "directory" : "file"} mode ${modeOf(old)}`];
  }
  const lines = old && now && modeOf(old) !== modeOf(now)
    ? [`old mode ${modeOf(old)}`, `new mode ${modeOf(now)}`]
    : [];
  const change = old && now && permissionChange(old, now);
  if (change && !change.byDefault) lines.push(`# ${change.text}: applied only with --exact-modes`);
  return lines;
}

/**
 * How the permission bits differ between two sides of the same type, or `undefined`. `byDefault`
 * says whether a plain apply makes the change: only a file's execute bit crosses by default (git's
 * 100644/100755); other bits, and directories' modes, cross with `apply --exact-modes`.
 *
 * @example
 * ```ts
 * import { permissionChange } from "./render_diff.ts";
 * const change = permissionChange({ type: "file", mode: 0o644 }, { type: "file", mode: 0o755 });
 * console.assert(change?.text === "mode 100644 -> 100755" && change.byDefault);
 * ```
 */
export function permissionChange(
  old: DiffSide,
  now: DiffSide,
): { text: string; byDefault: boolean } | undefined {
  if (old.type !== now.type || (old.type !== "file" && old.type !== "dir")) return undefined;
  const before = (old.mode ?? 0) & 0o7777;
  const after = (now.mode ?? 0) & 0o7777;
  if (before === after) return undefined;
  if (old.type === "file" && gitMode(before) !== gitMode(after)) {
    return { text: `mode ${modeOf(old)} -> ${modeOf(now)}`, byDefault: true };
  }
  const octal = (mode: number) => mode.toString(8).padStart(4, "0");
  return { text: `permissions ${octal(before)} -> ${octal(after)}`, byDefault: false };
}

/**
 * A side's mode as git writes it: 100644/100755 for files (plus special bits), 120000 for
 * symlinks, 040000-style for directories.
 *
 * @example
 * ```ts
 * import { modeOf } from "./render_diff.ts";
 * console.assert(modeOf({ type: "file", mode: 0o755 }) === "100755");
 * ```
 */
export function modeOf(side: DiffSide): string {
  switch (side.type) {
    case "file":
      return gitMode(side.mode ?? 0).toString(8).padStart(6, "0");
    case "symlink":
      return "120000";
    case "dir":
      return (0o40000 | (side.mode ?? 0)).toString(8).padStart(6, "0");
    default:
      return (side.mode ?? 0).toString(8).padStart(6, "0");
  }
}

/**
 * The content of one side of `entry` to show: a file's text (the host file for the old side, the
 * blob for the new one), a symlink's target, empty for a missing side or a directory.
 *
 * @example
 * ```ts
 * import { sideContent } from "./render_diff.ts";
 * const entry = { path: "l", status: "added" as const, binary: false, hostChanged: false };
 * const side = { type: "symlink" as const, target: "x" };
 * console.log(await sideContent(entry, side, "new", { root: "/p", blobs: "/b", color: false }));
 * ```
 */
export async function sideContent(
  entry: DiffEntry,
  side: DiffSide | undefined,
  which: "old" | "new",
  options: RenderOptions,
): Promise<Content> {
  if (!side) return { text: "" };
  if (side.type === "symlink") return { text: side.target ?? "" };
  if (side.type !== "file") return { text: "" };
  if (entry.binary) return { binary: true };
  if ((side.size ?? 0) > MAX_PATCH_BYTES) return { large: side.size ?? 0 };
  const bytes = which === "new"
    ? await readUnder(options.blobs, side.sha256 ?? "", MAX_PATCH_BYTES + 1)
    : await readUnder(options.root, entry.path, MAX_PATCH_BYTES + 1);
  if (!bytes) return { none: true };
  if (bytes.length > MAX_PATCH_BYTES) return { large: bytes.length };
  // A NUL past the first 8 KiB, or one that appeared on the host since classification.
  if (bytes.includes(0)) return { binary: true };
  return { text: new TextDecoder().decode(bytes) };
}

function paint(line: string, color: boolean): string {
  if (!color) return line;
  const wrap = (code: string) => `\x1b[${code}m${line}\x1b[0m`;
  if (
    /^(diff --git|old mode|new mode|new file|deleted file|new directory|deleted directory|--- |\+\+\+ )/
      .test(line)
  ) {
    return wrap("1");
  }
  if (line.startsWith("@@")) return wrap("36");
  if (line.startsWith("#")) return wrap("33");
  if (line.startsWith("+")) return wrap("32");
  if (line.startsWith("-")) return wrap("31");
  return line;
}

/**
 * `--name-only`: one escaped path per entry, directories with a trailing `/`.
 *
 * @example
 * ```ts
 * import { renderNameOnly } from "./render_diff.ts";
 * console.log(renderNameOnly([]).join("\n"));
 * ```
 */
export function renderNameOnly(entries: DiffEntry[]): string[] {
  return entries.map((e) => escapeControls(e.path) + (isDir(e) ? "/" : ""));
}

/**
 * Whether an entry is about a directory (its new side, else its old side).
 *
 * @example
 * ```ts
 * import { isDir } from "./render_diff.ts";
 * const entry = { path: "d", status: "added" as const, binary: false, hostChanged: false };
 * console.assert(isDir({ ...entry, new: { type: "dir" as const, mode: 0o755 } }));
 * ```
 */
export function isDir(entry: DiffEntry): boolean {
  return (entry.new ?? entry.old)?.type === "dir";
}

/**
 * `--json`: `{"version":1,"session":…,"root":…,"entries":[DiffEntry…]}` on one line. Characters
 * JSON leaves raw but a terminal would act on (DEL, C1, bidi overrides) are `\u`-escaped.
 *
 * @example
 * ```ts
 * import { renderJson } from "./render_diff.ts";
 * console.log(renderJson([], { session: "abc", root: "/p" }));
 * ```
 */
export function renderJson(
  entries: DiffEntry[],
  meta: { session: string; root: string } & Record<string, unknown>,
): string {
  return jsonSafe(JSON.stringify({ version: DIFF_JSON_VERSION, ...meta, entries }));
}
