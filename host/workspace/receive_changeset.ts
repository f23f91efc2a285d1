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
import {
  CHANGESET_LIMITS,
  ChangesetError,
  type ChangesetPaths,
  describeGuestValue,
  type UpperRecord,
  validateRecord,
} from "./changeset.ts";

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
  /** Most content bytes accepted in total (default 64 GiB); more is refused. */
  maxBytes?: number;
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
 * ```ts ignore
 * import { receiveChangeset } from "./receive_changeset.ts";
 * import { changesetPaths } from "./changeset.ts";
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
  const sink = new BlobSink(`${incoming}/blobs`, options.maxBytes ?? 64 * 1024 ** 3);
  const records: UpperRecord[] = [];
  const names = new Set<string>();
  const maxEntries = options.maxEntries ?? CHANGESET_LIMITS.maxRecords;
  const maxMemory = options.maxRecordMemory ?? MAX_RECORD_MEMORY_BYTES;
  let memory = 0;
  try {
    await readChangesStream(stream, {
      entry: (raw) => {
        if (records.length >= maxEntries) {
          throw new ChangesetError(`The guest reported more than ${maxEntries} changes`);
        }
        const record = validateRecord(raw, records.length, { unhashed: true });
        memory += recordMemoryBytes(record);
        if (memory > maxMemory) {
          throw new ChangesetError(
            `The guest's list of changes takes more than ${maxMemory} bytes of memory after ` +
              `${records.length} entries; nothing was kept`,
          );
        }
        if (names.has(record.path)) {
          throw new ChangesetError(`Duplicate path in changeset: ${record.path}`);
        }
        names.add(record.path);
        records.push(record);
        // A file whose name was refused is still followed by its content.
        return sink.begin(record.type === "file" ? record : raw);
      },
      content: (chunk) => sink.write(chunk),
      contentEnd: () => sink.end(),
    });
    sink.close();
    const announced = await options.announced;
    if (announced !== undefined && announced !== records.length) {
      throw new ChangesetError(
        `The guest announced ${announced} changes but sent ${records.length}; nothing was kept`,
      );
    }
    names.clear();
    records.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    await Deno.writeTextFile(`${incoming}/records.json`, JSON.stringify(records));
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
 * Stores one file's content at a time under its checked hash. Everything lands in the incoming
 * directory, which is renamed into place only when the whole stream was good.
 */
class BlobSink {
  total = 0;
  #record: Record<string, unknown> | undefined;
  #hash: Hash | undefined;
  #received = 0;
  /** Small files: the pieces so far. Big files: the temp file. */
  #pieces: Uint8Array[] | undefined;
  #file: Deno.FsFile | undefined;
  #temp = "";
  #count = 0;

  constructor(readonly dir: string, readonly maxBytes: number) {}

  /** Start the content of `record`; returns the bytes to expect. */
  begin(record: unknown): number {
    const r = record as Record<string, unknown> | null;
    if (r === null || typeof r !== "object" || r.type !== "file") return 0;
    const size = r.size as number;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ChangesetError(`Changeset entry ${describeGuestValue(r.path)}: bad size`);
    }
    if (this.total + size > this.maxBytes) {
      throw new ChangesetError(
        `The guest's changes exceed ${this.maxBytes} bytes; nothing was kept`,
      );
    }
    this.#record = r;
    this.#received = 0;
    this.#hash = createHash("sha256");
    if (size <= SMALL_FILE_BYTES) {
      this.#pieces = [];
    } else {
      this.#temp = `${this.dir}/.incoming-${this.#count++}`;
      this.#file = Deno.openSync(this.#temp, { write: true, createNew: true, mode: 0o600 });
    }
    if (size === 0) this.end();
    return size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#hash!.update(chunk);
    this.#received += chunk.length;
    this.total += chunk.length;
    if (this.#pieces) {
      // The channel reuses nothing, but copy anyway: a piece must not change under us.
      this.#pieces.push(chunk.slice());
      return;
    }
    for (let written = 0; written < chunk.length;) {
      written += await this.#file!.write(chunk.subarray(written));
    }
  }

  end(): void {
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
      if (!known) Deno.writeFileSync(target, concat(this.#pieces), { mode: 0o600 });
      this.#pieces = undefined;
      return;
    }
    this.#file!.close();
    this.#file = undefined;
    if (known) Deno.removeSync(this.#temp);
    else Deno.renameSync(this.#temp, target);
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
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
