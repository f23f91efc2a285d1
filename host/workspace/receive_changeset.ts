/**
 * Store the changes stream a guest sends (protocol/changes_stream.ts) as a session's changeset:
 * every file's content checked against the size its record announced and hashed here (the
 * record's `sha256` is the host's, whatever the guest sent), every record validated and reduced to
 * its known fields as it arrives, limits on entries, content bytes and the memory the records take
 * enforced while reading. Nothing is visible under
 * `changes/` until the whole stream was received and checked: it is written next to it and
 * renamed into place, so a cut or hostile stream leaves no half changeset behind.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { readChangesStream } from "@agentbox/protocol";
import { DEFAULT_WORKSPACE_LIMITS } from "./workspace_limits.ts";
import { SparseWriter } from "./blob.ts";
import {
  CHANGESET_LIMITS,
  ChangesetError,
  type ChangesetPaths,
  describeGuestValue,
  RecordCollector,
  type UpperRecord,
} from "./changeset.ts";
import { formatBytes, SpaceGuard } from "./state_space.ts";
import { printable } from "../terminal_text.ts";

/**
 * Default bound on the memory the received records may take (see {@linkcode recordMemoryBytes}):
 * room for about 800,000 changes with 100-character paths. Decoded guest records are never kept:
 * each is validated and copied down to its known fields as it arrives.
 */
export const MAX_RECORD_MEMORY_BYTES = 256 * 1024 ** 2;

/** What one kept record costs beyond its text: the object, its slot in the list and in the path set. */
const RECORD_OVERHEAD_BYTES = 160;

/** Estimated heap bytes `record` takes while the changeset is received (two bytes a character). */
export function recordMemoryBytes(record: UpperRecord): number {
  const text = record.path.length +
    (record.type === "symlink" ? record.target.length : 0) +
    (record.type === "unsupported" ? record.detail.length : 0);
  return RECORD_OVERHEAD_BYTES + 2 * text;
}

/** Options of {@linkcode receiveChangeset}. */
export interface ReceiveOptions {
  /**
   * Most content bytes accepted in total, counted as the records announce them (a sparse file at
   * its full size) before any content arrives, and as received; more is refused (`over_quota`).
   * Default `workspace.max_changes`'s, 8 GiB.
   */
  maxBytes?: number;
  /**
   * Free bytes the state file system must keep: a write that would go below is refused
   * (`low_space`). Default `workspace.state_reserve`'s, 1 GiB.
   */
  reserveBytes?: number;
  /** Most entries accepted (default {@linkcode CHANGESET_LIMITS.maxRecords}). */
  maxEntries?: number;
  /**
   * Most memory the records may take, as {@linkcode recordMemoryBytes} counts it (default
   * {@linkcode MAX_RECORD_MEMORY_BYTES}); more is refused, so that a guest cannot exhaust the
   * host process's heap with many long names.
   */
  maxRecordMemory?: number;
  /**
   * The entry count the sender says it sent once done (`changes.done`); checked before anything
   * is kept, so that a stream cut at an entry boundary is not taken for a complete one.
   */
  announced?: Promise<number>;
}

/** What was stored. */
export interface ReceivedChangeset {
  records: UpperRecord[];
  /** Content bytes received. */
  bytes: number;
}

/**
 * Read `stream` to its end and store it at `paths.changes`, replacing an earlier changeset.
 * Throws {@linkcode ChangesetError} for anything the stream gets wrong; nothing is kept then.
 *
 * @example
 * ```ts
 * import { receiveChangeset } from "./receive_changeset.ts";
 * import { changesetPaths } from "./changeset.ts";
 * import type { RunningVm } from "../vm/running_vm.ts";
 * declare const vm: RunningVm;
 * declare const sessionDir: string;
 * const { data } = vm.agent.changes();
 * const { records } = await receiveChangeset(data, changesetPaths(sessionDir));
 * ```
 */
export async function receiveChangeset(
  stream: ReadableStream<Uint8Array>,
  paths: ChangesetPaths,
  options: ReceiveOptions = {},
): Promise<ReceivedChangeset> {
  const incoming = `${paths.changes}.incoming`;
  await Deno.remove(incoming, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${incoming}/blobs`, { recursive: true, mode: 0o700 });
  const guard = new SpaceGuard(
    incoming,
    options.reserveBytes ?? DEFAULT_WORKSPACE_LIMITS.stateReserveBytes,
  );
  const sink = new BlobSink(
    `${incoming}/blobs`,
    options.maxBytes ?? DEFAULT_WORKSPACE_LIMITS.maxChangesBytes,
    guard,
  );
  const collector = new RecordCollector();
  let entries = 0;
  const maxEntries = options.maxEntries ?? CHANGESET_LIMITS.maxRecords;
  const maxMemory = options.maxRecordMemory ?? MAX_RECORD_MEMORY_BYTES;
  let memory = 0;
  try {
    await readChangesStream(stream, {
      entry: (raw) => {
        if (entries >= maxEntries) {
          throw new ChangesetError(`The guest reported more than ${maxEntries} changes`);
        }
        const record = collector.add(raw, entries++, { unhashed: true });
        if (record) memory += recordMemoryBytes(record);
        if (memory > maxMemory) {
          throw new ChangesetError(
            `The guest's list of changes takes more than ${maxMemory} bytes of memory after ` +
              `${entries} entries; nothing was kept`,
          );
        }
        // A file whose name was refused (or gave way) is still followed by its content.
        return sink.begin(record?.type === "file" ? record : raw);
      },
      content: (chunk) => sink.write(chunk),
      contentEnd: () => sink.end(),
    });
    sink.close();
    const announced = await options.announced;
    if (announced !== undefined && announced !== entries) {
      throw new ChangesetError(
        `The guest announced ${announced} changes but sent ${entries}; nothing was kept`,
      );
    }
    const records = collector.sorted();
    const json = new TextEncoder().encode(JSON.stringify(records));
    guard.claim(json.length);
    await Deno.writeFile(`${incoming}/records.json`, json);
    await Deno.remove(paths.changes, { recursive: true }).catch(() => {});
    await Deno.rename(incoming, paths.changes);
    return { records, bytes: sink.total };
  } catch (error) {
    sink.close();
    await Deno.remove(incoming, { recursive: true }).catch(() => {});
    if (error instanceof ChangesetError) throw error;
    throw new ChangesetError(`Cannot receive the workspace's changes: ${message(error)}`, {
      cause: error,
    });
  }
}

/**
 * Files up to this size are gathered in memory and written with one call once hashed; bigger
 * ones stream through a temp file. Per-file async calls made 20,000 small files take 6 s.
 */
const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Stores one file's content at a time under its checked hash — big files sparse where they are
 * zeros — within the quota and above the reserve. Everything lands in the incoming directory,
 * which is renamed into place only when the whole stream was good.
 */
class BlobSink {
  total = 0;
  #record: Record<string, unknown> | undefined;
  #hash: Hash | undefined;
  #received = 0;
  /** Small files: the pieces so far. Big files: the temp file. */
  #pieces: Uint8Array[] | undefined;
  #file: Deno.FsFile | undefined;
  #sparse: SparseWriter | undefined;
  #temp = "";
  #count = 0;

  constructor(readonly dir: string, readonly maxBytes: number, readonly guard: SpaceGuard) {}

  /** Start the content of `record`; returns the bytes to expect. */
  async begin(record: unknown): Promise<number> {
    const r = record as Record<string, unknown> | null;
    if (r === null || typeof r !== "object" || r.type !== "file") return 0;
    const size = r.size as number;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ChangesetError(`Changeset entry ${describeGuestValue(r.path)}: bad size`);
    }
    if (this.total + size > this.maxBytes) throw this.#overQuota(r.path, this.total + size);
    this.#record = r;
    this.#received = 0;
    this.#hash = createHash("sha256");
    if (size <= SMALL_FILE_BYTES) {
      this.#pieces = [];
    } else {
      this.#temp = `${this.dir}/.incoming-${this.#count++}`;
      this.#file = Deno.openSync(this.#temp, { write: true, createNew: true, mode: 0o600 });
      this.#sparse = new SparseWriter(this.#file, (bytes) => this.guard.claim(bytes));
    }
    if (size === 0) await this.end();
    return size;
  }

  #overQuota(path: unknown, bytes: number): ChangesetError {
    return new ChangesetError(
      `Cannot collect the guest's changes: they exceed the ${formatBytes(this.maxBytes)} quota ` +
        `(workspace.max_changes): ${bytes} bytes with ${printable(String(path))}, as announced; ` +
        "nothing was kept",
      { code: "over_quota" },
    );
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#hash!.update(chunk);
    this.#received += chunk.length;
    this.total += chunk.length;
    if (this.total > this.maxBytes) throw this.#overQuota(this.#record?.path, this.total);
    if (this.#pieces) {
      // The channel reuses nothing, but copy anyway: a piece must not change under us.
      this.#pieces.push(chunk.slice());
      return;
    }
    await this.#sparse!.write(chunk);
  }

  async end(): Promise<void> {
    const record = this.#record!;
    if (this.#received !== record.size) {
      throw new ChangesetError(
        `Changeset entry ${describeGuestValue(record.path)}: content is not its size`,
      );
    }
    const sha256 = this.#hash!.digest("hex");
    record.sha256 = sha256;
    // Same content, same blob: the first copy stays.
    const target = `${this.dir}/${sha256}`;
    const known = exists(target);
    if (this.#pieces) {
      if (!known) {
        this.guard.claim(this.#received);
        Deno.writeFileSync(target, concat(this.#pieces), { mode: 0o600 });
      }
      this.#pieces = undefined;
      return;
    }
    await this.#sparse!.finish();
    this.#sparse = undefined;
    this.#file!.close();
    this.#file = undefined;
    if (known) Deno.removeSync(this.#temp);
    else Deno.renameSync(this.#temp, target);
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
    this.#sparse = undefined;
    this.#pieces = undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function concat(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
