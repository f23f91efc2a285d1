/**
 * `agentbox diff --stat`: one line per change, git-style (`path | N ++--`), then a summary line.
 * Entries implied by a deleted or replaced directory are folded into that directory's line.
 *
 * @module
 */

import type { DiffEntry } from "./classify.ts";
import {
  type Content,
  isDir,
  permissionChange,
  type RenderOptions,
  sideContent,
} from "./render_diff.ts";
import { escapeControls } from "../terminal_text.ts";
import { unifiedDiff } from "./unified_diff.ts";

/** Widest `+`/`-` bar. */
const GRAPH_WIDTH = 40;

interface StatRow {
  name: string;
  /** Changed paths the row stands for (more than one for a collapsed directory). */
  files?: number;
  /** Lines added and removed, or a note shown instead of counts. */
  added: number;
  removed: number;
  note?: string;
}

/**
 * The `--stat` lines, ending with the summary (or `No changes.`).
 *
 * @example
 * ```ts
 * import { renderStat } from "./render_stat.ts";
 * const lines = await renderStat([], { root: "/p", blobs: "/b", color: false });
 * console.assert(lines[0] === "No changes.");
 * ```
 */
export async function renderStat(
  entries: DiffEntry[],
  options: RenderOptions & StatOptions,
): Promise<string[]> {
  const rows: StatRow[] = [];
  const folded = new Map<string, { row: StatRow; count: number }>();
  const collapsed = collapsedDirs(entries, options.collapseAt);
  const collapsedRows = new Map<string, StatRow>();
  for (const entry of entries) {
    const dir = collapsedUnder(entry.path, collapsed);
    if (dir !== undefined) {
      let row = collapsedRows.get(dir);
      if (!row) {
        row = { name: `${escapeControls(dir)}/`, added: 0, removed: 0, files: 0 };
        collapsedRows.set(dir, row);
        rows.push(row);
      }
      if (!isDir(entry)) row.files!++;
      row.note = `${row.files} ${row.files === 1 ? "file" : "files"} (new directory, collapsed)`;
      continue;
    }
    const row = await statRow(entry, options);
    const parent = entry.under === undefined ? undefined : folded.get(entry.under);
    if (parent) {
      parent.row.added += row.added;
      parent.row.removed += row.removed;
      parent.count++;
      parent.row.name = `${escapeControls(entry.under!)}/ (and ${parent.count} below)`;
      continue;
    }
    rows.push(row);
    if (isDir(entry) || entry.old?.type === "dir") folded.set(entry.path, { row, count: 0 });
  }
  if (rows.length === 0) return ["No changes."];
  return [...formatRows(rows, options.color), summary(rows), ...modeSummary(entries)];
}

/** How `--stat` lines are grouped. */
export interface StatOptions {
  /**
   * Collapse a directory the guest created into one line (`node_modules/ | 219 files`) when at
   * least this many entries are below it; absent: every entry gets its line (`diff --stat`).
   */
  collapseAt?: number;
}

/** The new directories with at least `at` entries below them, outermost only. */
function collapsedDirs(entries: DiffEntry[], at: number | undefined): Set<string> {
  const chosen = new Set<string>();
  if (at === undefined) return chosen;
  const below = new Map<string, number>();
  for (const entry of entries) {
    for (let i = entry.path.lastIndexOf("/"); i > 0; i = entry.path.lastIndexOf("/", i - 1)) {
      const dir = entry.path.slice(0, i);
      below.set(dir, (below.get(dir) ?? 0) + 1);
    }
  }
  const added = entries.filter((e) => e.status === "added" && isDir(e)).map((e) => e.path)
    .sort((a, b) => a.length - b.length);
  for (const dir of added) {
    if (collapsedUnder(dir, chosen) === undefined && (below.get(dir) ?? 0) >= at) chosen.add(dir);
  }
  return chosen;
}

/** The collapsed directory `path` is or is below, if any. */
function collapsedUnder(path: string, dirs: ReadonlySet<string>): string | undefined {
  if (dirs.size === 0) return undefined;
  for (let end = path.length; end > 0; end = path.lastIndexOf("/", end - 1)) {
    const prefix = path.slice(0, end);
    if (dirs.has(prefix)) return prefix;
  }
  return undefined;
}

/**
 * git's `--summary` lines for mode changes, one per path whose mode the diff changes, so that a
 * chmod is never hidden behind a `0` count; those a plain apply leaves alone say so.
 */
function modeSummary(entries: DiffEntry[]): string[] {
  const lines: string[] = [];
  for (const entry of entries) {
    const change = entry.old && entry.new && permissionChange(entry.old, entry.new);
    if (!change) continue;
    const name = escapeControls(entry.path) + (isDir(entry) ? "/" : "");
    lines.push(
      ` ${change.text} ${name}${change.byDefault ? "" : " (applied only with --exact-modes)"}`,
    );
  }
  return lines;
}

async function statRow(entry: DiffEntry, options: RenderOptions): Promise<StatRow> {
  const name = escapeControls(entry.path) + (isDir(entry) ? "/" : "");
  if (entry.status === "unsupported") {
    return {
      name,
      added: 0,
      removed: 0,
      note: `unsupported (${escapeControls(entry.detail ?? "")})`,
    };
  }
  if (entry.applied) return { name, added: 0, removed: 0, note: "applied" };
  const before = await sideContent(entry, entry.old, "old", options);
  const after = await sideContent(entry, entry.new, "new", options);
  if ("text" in before && "text" in after) {
    const { added, removed } = unifiedDiff(before.text, after.text);
    return { name, added, removed };
  }
  if ("none" in before && !("binary" in after || "large" in after)) {
    // The host file is gone (deleted since the session started): its lines cannot be counted.
    return { name, added: 0, removed: 0, note: "the host's old content is gone" };
  }
  const size = (c: Content, side = entry.old) => ("text" in c ? c.text.length : side?.size ?? 0);
  const kind = "large" in before || "large" in after ? "Large" : "Bin";
  return {
    name,
    added: 0,
    removed: 0,
    note: `${kind} ${size(before)} -> ${size(after, entry.new)} bytes`,
  };
}

function formatRows(rows: StatRow[], color: boolean): string[] {
  const nameWidth = Math.max(...rows.map((r) => r.name.length));
  const max = Math.max(1, ...rows.map((r) => r.added + r.removed));
  const countWidth = String(max).length;
  const scale = max > GRAPH_WIDTH ? GRAPH_WIDTH / max : 1;
  return rows.map((row) => {
    const prefix = ` ${row.name.padEnd(nameWidth)} | `;
    if (row.note) return prefix + row.note;
    const bar = (n: number) => (n === 0 ? 0 : Math.max(1, Math.round(n * scale)));
    const plus = "+".repeat(bar(row.added));
    const minus = "-".repeat(bar(row.removed));
    const graph = color ? `\x1b[32m${plus}\x1b[0m\x1b[31m${minus}\x1b[0m` : plus + minus;
    return `${prefix}${String(row.added + row.removed).padStart(countWidth)} ${graph}`.trimEnd();
  });
}

function summary(rows: StatRow[]): string {
  const added = rows.reduce((n, r) => n + r.added, 0);
  const removed = rows.reduce((n, r) => n + r.removed, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const files = rows.reduce((n, r) => n + (r.files ?? 1), 0);
  const parts = [` ${plural(files, "file")} changed`];
  if (added) parts.push(`${plural(added, "insertion")}(+)`);
  if (removed) parts.push(`${plural(removed, "deletion")}(-)`);
  return parts.join(", ");
}
