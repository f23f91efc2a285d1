/**
 * Baseline records: one line per entry of a shared tree, as GNU `find` prints it (type, permission
 * bits in octal, size, mtime in seconds with a fraction, inode, path), and the file format of a
 * baseline built on them. Two walks of a tree are compared record by record as strings, so what
 * did not change is never parsed; only a changed record becomes a {@linkcode BaselineEntry}.
 *
 * The file (`baseline.json` of a session, `top-<key>.json` of a share's cache, format 2):
 *
 * ```text
 * agentbox-baseline 2\n
 * {"root":"/home/me/project","takenAt":1764790000000}\n
 * f 644 12 1764790000.1234567890 123456 src/main.ts\0
 * d 755 4096 1764790000.0000000000 123455 src\0
 * ```
 *
 * A name may hold any byte but NUL and `/`, so records end with NUL. Files written before format 2
 * were one JSON object (`{"root":…,"takenAt":…,"entries":{…}}`); those are still read.
 *
 * @module
 */

import type { BaselineEntry } from "./changeset.ts";

/** A tree's records keyed by path, in the order of the walk (parents before their entries). */
export type TreeRecords = Map<string, string>;

/** The first line of a format-2 baseline file. */
export const BASELINE_MAGIC = "agentbox-baseline 2\n";

/** What `find -printf` prints per record (NUL-terminated); {@linkcode recordPath} undoes it. */
export const RECORD_FORMAT = "%y %m %s %T@ %i %P\\0";

/**
 * Where the path of `record` starts (after its five space-separated facts), or -1 when it has
 * fewer than six fields.
 *
 * @example
 * ```ts
 * import { recordPathStart } from "./baseline_records.ts";
 * console.assert(recordPathStart("f 644 1 0.0 7 a b") === 14);
 * ```
 */
export function recordPathStart(record: string): number {
  let at = -1;
  for (let i = 0; i < 5; i++) {
    at = record.indexOf(" ", at + 1);
    if (at < 0) return -1;
  }
  return at + 1;
}

/**
 * The baseline entry type of a record's first field (`find`'s `%y`).
 *
 * @example
 * ```ts
 * import { recordType } from "./baseline_records.ts";
 * console.assert(recordType("d 755 4096 0.0 2 src") === "dir");
 * ```
 */
export function recordType(record: string): BaselineEntry["type"] {
  const c = record.charCodeAt(0);
  if (record.charCodeAt(1) !== 32) return "other";
  return c === 102 ? "file" : c === 100 ? "dir" : c === 108 ? "symlink" : "other";
}

/**
 * The baseline entry of `record`, or `undefined` when its facts are malformed.
 *
 * @example
 * ```ts
 * import { recordEntry } from "./baseline_records.ts";
 * const entry = recordEntry("f 644 12 1764790000.1234567890 9 a.ts");
 * console.assert(entry?.mtimeMs === 1764790000123 && entry.mode === 0o644);
 * ```
 */
export function recordEntry(record: string): BaselineEntry | undefined {
  const m = RECORD_FACTS.exec(record);
  if (m === null) return undefined;
  const size = Number(m[2]);
  if (!Number.isSafeInteger(size)) return undefined;
  return {
    type: recordType(record),
    mode: parseInt(m[1], 8),
    size,
    mtimeMs: m[3] === "-" ? 0 : Number(m[4]) * 1000 + Number((m[5] ?? "").padEnd(3, "0")),
    ino: Number(m[6]),
  };
}

/**
 * A record's facts: mode, size, mtime's sign, whole seconds and first three decimals (`lstat`'s
 * mtime in whole milliseconds as Deno reports it; 0 before 1970, where it has none), inode.
 */
const RECORD_FACTS = /^[^ ] ([0-7]{1,4}) (\d{1,16}) (-?)(\d{1,16})(?:\.(\d{0,3})\d*)? (\d{1,20}) /;

/**
 * The record of `entry` at `path` (mtime to the millisecond), which {@linkcode recordEntry} reads
 * back as it was.
 *
 * @example
 * ```ts
 * import { formatRecord } from "./baseline_records.ts";
 * const entry = { type: "file" as const, mode: 0o644, size: 1, mtimeMs: 1500, ino: 3 };
 * console.assert(formatRecord("a", entry) === "f 644 1 1.500 3 a");
 * ```
 */
export function formatRecord(path: string, entry: BaselineEntry): string {
  const type = entry.type === "file"
    ? "f"
    : entry.type === "dir"
    ? "d"
    : entry.type === "symlink"
    ? "l"
    : "p";
  const ms = Math.max(0, Math.round(entry.mtimeMs));
  const mtime = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
  return `${type} ${entry.mode.toString(8)} ${entry.size} ${mtime} ${entry.ino} ${path}`;
}

/**
 * The text of a format-2 baseline file of `records` under `root`.
 *
 * @example
 * ```ts
 * import { baselineText } from "./baseline_records.ts";
 * console.log(baselineText("/p", 0, new Map([["a", "f 644 1 0.0 3 a"]])));
 * ```
 */
export function baselineText(root: string, takenAt: number, records: TreeRecords): string {
  const header = `${BASELINE_MAGIC}${JSON.stringify({ root, takenAt })}\n`;
  if (records.size === 0) return header;
  return `${header}${[...records.values()].join("\0")}\0`;
}

/** A format-2 baseline file, read. */
export interface BaselineRecords {
  root: string;
  takenAt: number;
  records: TreeRecords;
}

/**
 * Read the text of a format-2 baseline file: header and records, each record keyed by its path;
 * `undefined` when `text` is not one (an older JSON baseline, or malformed: a path twice, a record
 * without one). Records are not checked here further ({@linkcode recordEntry} checks facts).
 *
 * @example
 * ```ts
 * import { baselineText, parseBaselineText } from "./baseline_records.ts";
 * const text = baselineText("/p", 0, new Map([["a", "f 644 1 0.0 3 a"]]));
 * console.assert(parseBaselineText(text)?.records.get("a") === "f 644 1 0.0 3 a");
 * ```
 */
export function parseBaselineText(text: string): BaselineRecords | undefined {
  if (!text.startsWith(BASELINE_MAGIC)) return undefined;
  const end = text.indexOf("\n", BASELINE_MAGIC.length);
  if (end < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(text.slice(BASELINE_MAGIC.length, end));
  } catch {
    return undefined;
  }
  const h = header as Record<string, unknown>;
  if (typeof h !== "object" || h === null || typeof h.root !== "string") return undefined;
  if (typeof h.takenAt !== "number") return undefined;
  const body = text.slice(end + 1);
  if (body !== "" && !body.endsWith("\0")) return undefined;
  const records: TreeRecords = new Map();
  if (body !== "") {
    const lines = body.split("\0");
    lines.pop();
    for (const line of lines) {
      const at = recordPathStart(line);
      if (at < 0 || at === line.length) return undefined;
      records.set(line.slice(at), line);
    }
    if (records.size !== lines.length) return undefined; // a path twice
  }
  return { root: h.root, takenAt: h.takenAt, records };
}
