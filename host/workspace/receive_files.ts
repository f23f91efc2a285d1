/**
 * Store a files stream a guest sends (`files.read`, `agentbox cp S:PATH DEST`) on the host, under
 * the same rules as an apply: every record validated as a changeset record
 * ({@linkcode validateRecord}: clean relative names, no control characters, bounded names and
 * link targets), the host's path limits ({@linkcode hostPathProblem}), no host symlink ever
 * followed ({@linkcode verifyParents} before each step; links arrive as links), modes as apply
 * gives them ({@linkcode appliedMode}: the execute bit, less the umask, no special bits, unless
 * `exactModes`). What a rule refuses is skipped and reported, the rest copied.
 *
 * Nothing is visible at the destination until the whole stream was received and checked: the
 * tree is built in a fresh directory next to it and renamed into place at the end, so a cut or
 * hostile stream leaves nothing behind. An existing file at the destination is replaced (by
 * rename, never written through); an existing directory is not merged into.
 *
 * @module
 */

import { readChangesStream } from "@agentbox/protocol";
import { AgentboxError } from "../agentbox_error.ts";
import { appliedMode } from "./apply_plan.ts";
import { baselineEntry } from "./baseline.ts";
import { SparseWriter } from "./blob.ts";
import {
  CHANGESET_LIMITS,
  ChangesetError,
  describeGuestValue,
  type UpperRecord,
  validateRecord,
} from "./changeset.ts";
import { hostPathProblem, lstatIfExists, UnsafePathError, verifyParents } from "./safe_path.ts";
import { DEFAULT_WORKSPACE_LIMITS } from "./workspace_limits.ts";
import { printable } from "../terminal_text.ts";

/** Where a copy lands: the directory it is made in, and the name it gets there. */
export interface FilesDestination {
  /** Real path of an existing directory. */
  dir: string;
  /** The copy's name in `dir`; absent: the name the guest's first record gives it. */
  name?: string;
}

/** Options of {@linkcode receiveFiles}. */
export interface ReceiveFilesOptions {
  /** The entry count the sender announces once done; checked before anything is kept. */
  announced?: Promise<number>;
  /** Most content bytes accepted (default `workspace.max_changes`'s, 8 GiB). */
  maxBytes?: number;
  /** Give files and directories the guest's permission bits (special bits still never cross). */
  exactModes?: boolean;
  /** Default the process's umask. */
  umask?: number;
}

/** What a copy did. */
export interface ReceivedFiles {
  /** The host path of the copy. */
  path: string;
  files: number;
  dirs: number;
  symlinks: number;
  /** Content bytes written. */
  bytes: number;
  /** Entries a rule refused (path relative to the copy's parent, printable), up to 1000. */
  skipped: { path: string; reason: string }[];
  /** Entries skipped in all (more than `skipped` lists when over 1000). */
  skippedCount: number;
}

const MAX_SKIPPED_LISTED = 1000;

/**
 * Read `stream` to its end and store the copy at `dest`. Throws {@linkcode ChangesetError} for a
 * stream that is malformed, cut or over the limits, `UnsafePathError` when the destination
 * moved, `AgentboxError` `destination_exists` (a directory is there, or a
 * file where a directory goes); nothing is kept then.
 *
 * @example
 * ```ts ignore
 * import { receiveFiles } from "./receive_files.ts";
 * const { data, entries } = agent.readFiles("/workspace/out");
 * const report = await receiveFiles(data, { dir: "/home/me/project" }, { announced: entries });
 * ```
 */
export async function receiveFiles(
  stream: ReadableStream<Uint8Array>,
  dest: FilesDestination,
  options: ReceiveFilesOptions = {},
): Promise<ReceivedFiles> {
  const staging = `${dest.dir}/.agentbox-cp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(staging, { mode: 0o700 });
  const maxBytes = options.maxBytes ?? DEFAULT_WORKSPACE_LIMITS.maxChangesBytes;
  const modes = { exactModes: options.exactModes, umask: options.umask ?? Deno.umask() };
  const report: ReceivedFiles = {
    path: "",
    files: 0,
    dirs: 0,
    symlinks: 0,
    bytes: 0,
    skipped: [],
    skippedCount: 0,
  };
  const skip = (path: string, reason: string) => {
    report.skippedCount++;
    if (report.skipped.length < MAX_SKIPPED_LISTED) {
      report.skipped.push({ path: printable(path), reason });
    }
  };
  let guestRoot: string | undefined;
  let name = "";
  let rootType: UpperRecord["type"] | undefined;
  let entries = 0;
  let file: { handle: Deno.FsFile; sparse: SparseWriter; path: string } | undefined;
  const dirModes: { path: string; mode: number }[] = [];
  try {
    await readChangesStream(stream, {
      entry: async (raw) => {
        if (entries >= CHANGESET_LIMITS.maxRecords) {
          throw new ChangesetError(
            `The guest sent more than ${CHANGESET_LIMITS.maxRecords} entries`,
          );
        }
        const record = validateRecord(raw, entries++, { unhashed: true });
        const size = contentSize(raw);
        if (guestRoot === undefined) {
          if (record.type === "unsupported" || record.path.includes("/")) {
            throw new ChangesetError(
              `The guest's copy starts with ${describeGuestValue(record.path)}, not a name` +
                (record.type === "unsupported" ? `: ${record.detail}` : ""),
            );
          }
          guestRoot = record.path;
          rootType = record.type;
          name = dest.name ?? guestRoot;
        } else if (!record.path.startsWith(`${guestRoot}/`)) {
          throw new ChangesetError(
            `The guest sent ${describeGuestValue(record.path)}, outside the copied path`,
          );
        }
        const rel = name + record.path.slice(guestRoot.length);
        if (report.bytes + size > maxBytes) {
          throw new ChangesetError(
            `The copy is over ${maxBytes} bytes of content; nothing was kept`,
            { code: "over_quota" },
          );
        }
        const problem = record.type === "unsupported"
          ? record.detail
          : hostPathProblem(dest.dir, rel, { forCreation: true });
        if (problem) {
          skip(rel, problem);
          return size; // the content still follows and is dropped
        }
        return await stage(record, rel, size);
      },
      content: async (chunk) => {
        report.bytes += chunk.length;
        await file?.sparse.write(chunk);
      },
      contentEnd: finishFile,
    });
    const announced = await options.announced;
    if (guestRoot === undefined) throw new ChangesetError("The guest sent nothing to copy");
    if (announced !== undefined && announced !== entries) {
      throw new ChangesetError(
        `The guest announced ${announced} entries but sent ${entries}; nothing was kept`,
      );
    }
    // Directories last and deepest first, so that a read-only one is closed only when full.
    for (const { path, mode } of dirModes.reverse()) await Deno.chmod(path, mode);
    report.path = await place(staging, dest.dir, name, rootType!);
    return report;
  } catch (error) {
    file?.handle.close();
    if (error instanceof AgentboxError) throw error;
    throw new ChangesetError(`Cannot store the guest's files: ${describe(error)}`, {
      cause: error,
    });
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }

  /** Make `record` under the staging directory; returns the content bytes to expect. */
  async function stage(record: UpperRecord, rel: string, size: number): Promise<number> {
    let parents;
    try {
      parents = await verifyParents(staging, rel);
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      skip(rel, error.message);
      return size;
    }
    if (parents === "missing") {
      skip(rel, "its directory was not copied");
      return size;
    }
    const target = `${staging}/${rel}`;
    if (await lstatIfExists(target)) {
      skip(rel, "the guest sent it twice");
      return size;
    }
    switch (record.type) {
      case "dir":
        await Deno.mkdir(target, { mode: 0o700 });
        dirModes.push({ path: target, mode: appliedMode(modes, "dir", record.mode, null) });
        report.dirs++;
        return 0;
      case "symlink":
        await Deno.symlink(record.target, target);
        report.symlinks++;
        return 0;
      case "file": {
        const existing = rel === name ? await lstatIfExists(`${dest.dir}/${name}`) : null;
        const mode = appliedMode(modes, "file", record.mode, existing && baselineEntry(existing));
        const handle = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
        file = { handle, sparse: new SparseWriter(handle), path: target };
        report.files++;
        if (size === 0) await finishFile();
        await Deno.chmod(target, mode);
        return size;
      }
      default:
        skip(rel, `a ${record.type} entry cannot be copied`);
        return size;
    }
  }

  async function finishFile(): Promise<void> {
    if (!file) return;
    const { handle, sparse } = file;
    file = undefined;
    try {
      await sparse.finish();
    } finally {
      handle.close();
    }
  }
}

/** Move the staged copy to `dir/name`: onto nothing, or onto a file or link (replaced). */
async function place(staging: string, dir: string, name: string, type: string): Promise<string> {
  await verifyParents(dir, name);
  const target = `${dir}/${name}`;
  const existing = await lstatIfExists(target);
  if (existing?.isDirectory) {
    throw new AgentboxError(
      `${printable(target)} is a directory on the host: copy into it, or remove it first`,
      { kind: "conflict", code: "destination_exists" },
    );
  }
  if (existing && type === "dir") {
    throw new AgentboxError(
      `${printable(target)} exists on the host and is not a directory: remove it first`,
      { kind: "conflict", code: "destination_exists" },
    );
  }
  await Deno.rename(`${staging}/${name}`, target);
  return target;
}

/** The content bytes that follow `raw` in the stream, whatever else is wrong with it. */
function contentSize(raw: unknown): number {
  const r = raw as Record<string, unknown>;
  if (r?.type !== "file") return 0;
  const size = r.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new ChangesetError(`Files entry ${describeGuestValue(r.path)}: bad size`);
  }
  return size;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
