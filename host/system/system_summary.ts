/**
 * The summary of a system changeset: the files that really changed (copy-ups, excluded paths and
 * caches dropped), each marked with the package that owns it and its risk, and on top of them
 * the packages installed, removed and upgraded, the users and groups added and removed, the
 * services enabled and disabled, and the unified diffs of the text files changed under `/etc`.
 * Pure over the stored changeset: everything in it came from the guest and is data.
 *
 * @module
 */

import { posix } from "node:path";
import type { UpperRecord } from "../workspace/changeset.ts";
import { unifiedDiff } from "../workspace/unified_diff.ts";
import { diffPackages, type PackageChanges, parseDpkgStatus } from "./dpkg_status.ts";
import { type ServiceChanges, serviceChanges } from "./services.ts";
import { SEMANTIC_FILES, type StoredSystemChangeset } from "./system_changeset.ts";
import { systemExcluder } from "./system_excludes.ts";
import { isSensitive, systemRiskReason } from "./system_risk.ts";
import { type AccountChanges, diffAccounts, parseGroup, parsePasswd } from "./user_db.ts";

/** One changed entry of the root filesystem (paths relative to `/`). */
export interface SystemFileChange {
  path: string;
  change: "added" | "modified" | "deleted";
  /** The entry's type now (`deleted`: what it was, when the base knew). */
  type: "file" | "dir" | "symlink" | "unsupported" | "unknown";
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** The host's hash of the content (files). */
  sha256?: string;
  target?: string;
  /** Why it cannot be reproduced (unsupported entries). */
  detail?: string;
  /** The installed or upgraded package that ships it. */
  package?: string;
  /** Why a change here is high-risk. */
  risk?: string;
  /** A secret: never copied into an export. */
  sensitive?: boolean;
}

/** A text file changed under `/etc`, with its unified diff. */
export interface EtcDiff {
  path: string;
  change: "added" | "modified" | "deleted";
  /** Hunk lines (`@@`, ` `, `-`, `+`); empty for binary, big or secret files. */
  lines: string[];
  added: number;
  removed: number;
  /** Why there is no diff: `binary`, `large`, `sensitive`, `not a file`, `base unknown`. */
  omitted?: string;
}

/** Everything `agentbox diff --system` reports. */
export interface SystemSummary {
  packages: PackageChanges;
  accounts: AccountChanges;
  services: ServiceChanges;
  etc: EtcDiff[];
  files: SystemFileChange[];
  /** Paths left out by the exclude list (counted, not listed). */
  excluded: number;
}

/** Options of {@linkcode summarizeSystemChanges}. */
export interface SummaryOptions {
  /** Globs left out on top of the defaults (see system_excludes.ts). */
  exclude?: readonly string[];
}

/** Text files up to this size get a diff. */
const MAX_DIFF_BYTES = 256 * 1024;

/**
 * Summarize a stored system changeset.
 *
 * @example
 * ```ts ignore
 * import { loadSystemChangeset } from "./system_changeset.ts";
 * import { summarizeSystemChanges } from "./system_summary.ts";
 * const summary = await summarizeSystemChanges(await loadSystemChangeset(dir));
 * console.log(summary.packages.installed.map((p) => p.name));
 * ```
 */
export async function summarizeSystemChanges(
  stored: StoredSystemChangeset,
  options: SummaryOptions = {},
): Promise<SystemSummary> {
  const excluded = systemExcluder(options.exclude);
  const base = new Map(stored.base.records.map((r) => [r.path, r]));
  const upper = new Map(stored.changes.records.map((r) => [r.path, r]));
  const after = (path: string) => afterText(stored, path);
  const before = (path: string) => textOf(stored.base.blobs, base.get(path));

  const packages = diffPackages(
    parseDpkgStatus(await before(SEMANTIC_FILES.dpkgStatus) ?? ""),
    parseDpkgStatus(await after(SEMANTIC_FILES.dpkgStatus) ?? ""),
  );
  const accounts = diffAccounts(
    {
      users: parsePasswd(await before(SEMANTIC_FILES.passwd) ?? ""),
      groups: parseGroup(await before(SEMANTIC_FILES.group) ?? ""),
    },
    {
      users: parsePasswd(await after(SEMANTIC_FILES.passwd) ?? ""),
      groups: parseGroup(await after(SEMANTIC_FILES.group) ?? ""),
    },
  );
  const owners = await packageFiles(stored, packages);

  const files: SystemFileChange[] = [];
  let excludedCount = 0;
  for (const record of stored.changes.records) {
    if (excluded(record.path)) {
      excludedCount++;
      continue;
    }
    const change = fileChange(record, base.get(record.path));
    if (!change) continue;
    const owner = owners.get(record.path);
    if (owner) change.package = owner;
    const risk = systemRiskReason(record.path);
    if (risk) change.risk = risk;
    if (isSensitive(record.path)) change.sensitive = true;
    files.push(change);
  }

  const linkPaths = (kind: "added" | "deleted") =>
    files.filter((f) =>
      kind === "added" ? f.change === "added" && f.type === "symlink" : f.change === "deleted"
    ).map((f) => f.path);
  const services = serviceChanges(linkPaths("added"), linkPaths("deleted"));

  const etc: EtcDiff[] = [];
  for (const file of files) {
    if (!file.path.startsWith("etc/") || file.type === "dir") continue;
    etc.push(await etcDiff(file, base.get(file.path), upper.get(file.path), stored));
  }
  return { packages, accounts, services, etc, files, excluded: excludedCount };
}

/**
 * The text of `path` (relative) after the session: the upper layer's version when it has one (a
 * deletion is empty), else the base's; `undefined` when neither has it as a text file.
 */
export async function afterText(
  stored: StoredSystemChangeset,
  path: string,
): Promise<string | undefined> {
  const upper = stored.changes.records.find((r) => r.path === path);
  if (upper?.type === "deleted") return "";
  if (upper) return await textOf(stored.changes.blobs, upper);
  return await textOf(stored.base.blobs, stored.base.records.find((r) => r.path === path));
}

function textOf(blobs: string, record: UpperRecord | undefined): Promise<string | undefined> {
  return record?.type === "file" && record.size <= MAX_TEXT_BYTES
    ? readBlob(blobs, record.sha256)
    : Promise.resolve(undefined);
}

/** Databases (dpkg's status, passwd, group, package lists) bigger than this are not read. */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

/** The change `record` stands for against its base, or `undefined` for a copy-up. */
function fileChange(
  record: UpperRecord,
  base: UpperRecord | undefined,
): SystemFileChange | undefined {
  const { path } = record;
  switch (record.type) {
    case "deleted":
      return {
        path,
        change: "deleted",
        type: base && base.type !== "deleted" ? base.type : "unknown",
      };
    case "unsupported":
      return {
        path,
        change: base ? "modified" : "added",
        type: "unsupported",
        detail: record.detail,
      };
    default: {
      if (base && sameEntry(record, base)) return undefined;
      const out: SystemFileChange = {
        path,
        change: base ? "modified" : "added",
        type: record.type,
      };
      if (record.type !== "symlink") out.mode = record.mode;
      if (record.uid !== undefined) out.uid = record.uid;
      if (record.gid !== undefined) out.gid = record.gid;
      if (record.type === "file") {
        out.size = record.size;
        out.sha256 = record.sha256;
      }
      if (record.type === "symlink") out.target = record.target;
      return out;
    }
  }
}

function sameEntry(a: UpperRecord, b: UpperRecord): boolean {
  if (a.type !== b.type) return false;
  if ("uid" in a && "uid" in b && (a.uid !== b.uid || a.gid !== b.gid)) return false;
  switch (a.type) {
    case "file":
      return b.type === "file" && a.sha256 === b.sha256 && a.mode === b.mode;
    case "dir":
      return b.type === "dir" && a.mode === b.mode;
    case "symlink":
      return b.type === "symlink" && a.target === b.target;
    default:
      return false;
  }
}

/**
 * Path (relative) → the package that ships it: for packages installed or upgraded in the session,
 * from their file lists in the upper layer; for packages removed, from the image's.
 */
async function packageFiles(
  stored: StoredSystemChangeset,
  packages: PackageChanges,
): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  const lists = (part: StoredSystemChangeset["changes"]) =>
    new Map(
      part.records
        .filter((r) => /^var\/lib\/dpkg\/info\/[^/]+\.list$/.test(r.path))
        .map((r) => [posix.basename(r.path, ".list"), r]),
    );
  const mark = async (
    part: StoredSystemChangeset["changes"],
    pkgs: { name: string; architecture: string }[],
  ) => {
    const byList = lists(part);
    for (const pkg of pkgs) {
      const key = byList.has(pkg.name) ? pkg.name : `${pkg.name}:${pkg.architecture}`;
      const text = await textOf(part.blobs, byList.get(key));
      for (const line of (text ?? "").split("\n")) {
        if (line.startsWith("/") && line.length > 1) owners.set(line.slice(1), pkg.name);
      }
      // dpkg's own records of the package belong to it too.
      for (const r of stored.changes.records) {
        if (r.path.startsWith(`var/lib/dpkg/info/${key}.`)) owners.set(r.path, pkg.name);
      }
    }
  };
  await mark(stored.changes, [...packages.installed, ...packages.upgraded]);
  await mark(stored.base, packages.removed);
  return owners;
}

async function etcDiff(
  file: SystemFileChange,
  base: UpperRecord | undefined,
  upper: UpperRecord | undefined,
  stored: StoredSystemChangeset,
): Promise<EtcDiff> {
  const entry: EtcDiff = { path: file.path, change: file.change, lines: [], added: 0, removed: 0 };
  if (file.sensitive) return { ...entry, omitted: "sensitive" };
  const side = async (record: UpperRecord | undefined, blobs: string) => {
    if (!record || record.type === "deleted") return { text: "" };
    if (record.type === "symlink") return { text: `-> ${record.target}\n` };
    if (record.type !== "file") return { omitted: "not a file" };
    if (record.size > MAX_DIFF_BYTES) return { omitted: "large" };
    const text = await readBlob(blobs, record.sha256);
    if (text === undefined) return { omitted: "binary" };
    return { text };
  };
  const old = file.change === "added"
    ? { text: "" }
    : base
    ? await side(base, stored.base.blobs)
    : { omitted: "base unknown" };
  const now = await side(upper, stored.changes.blobs);
  const omitted = old.omitted ?? now.omitted;
  if (omitted !== undefined) return { ...entry, omitted };
  const diff = unifiedDiff(old.text!, now.text!);
  return { ...entry, lines: diff.lines, added: diff.added, removed: diff.removed };
}

/** A blob as text, or `undefined` when it is missing or not UTF-8 text (NUL, invalid bytes). */
async function readBlob(dir: string, sha256: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  const bytes = await Deno.readFile(`${dir}/${sha256}`).catch(() => undefined);
  if (!bytes || bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
