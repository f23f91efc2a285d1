/**
 * Store the changes stream a guest sends (protocol/changes_stream.ts) as a session's changeset:
 * every file's content checked against the size its record announced and hashed here (the
 * record's `sha256` is the host's, whatever the guest sent), every record validated, limits on entries and bytes enforced while reading. Nothing is visible under
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
  type UpperRecord,
  validateRecords,
} from "./changeset.ts";

/** Options of {@linkcode receiveChangeset}. */
export interface ReceiveOptions {
  /** Most content bytes accepted in total (default 64 GiB); more is refused. */
  maxBytes?: number;
  /** Most entries accepted (default {@linkcode CHANGESET_LIMITS.maxRecords}). */
  maxEntries?: number;
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
  const sink = new BlobSink(`${incoming}/blobs`, options.maxBytes ?? 64 * 1024 ** 3);
  const raw: unknown[] = [];
  const maxEntries = options.maxEntries ?? CHANGESET_LIMITS.maxRecords;
  try {
    await readChangesStream(stream, {
      entry: (record) => {
        if (raw.length >= maxEntries) {
          throw new ChangesetError(`The guest reported more than ${maxEntries} changes`);
        }
        raw.push(record);
        return sink.begin(record);
      },
      content: (chunk) => sink.write(chunk),
      contentEnd: () => sink.end(),
    });
    sink.close();
    const announced = await options.announced;
    if (announced !== undefined && announced !== raw.length) {
      throw new ChangesetError(
        `The guest announced ${announced} changes but sent ${raw.length}; nothing was kept`,
      );
    }
    const records = validateRecords(raw);
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
      throw new ChangesetError(`Changeset entry ${String(r.path)}: bad size`);
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
      throw new ChangesetError(`Changeset entry ${String(record.path)}: content is not its size`);
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
