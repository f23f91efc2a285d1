/**
 * Store the changes stream a guest sends (protocol/changes_stream.ts) as a session's changeset:
 * every file's content checked against the size and sha256 its record announced, every record
 * validated, limits on entries and bytes enforced while reading. Nothing is visible under
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

/** Writes one file's content at a time into a temp file, then names it by its checked hash. */
class BlobSink {
  total = 0;
  #file: Deno.FsFile | undefined;
  #hash: Hash | undefined;
  #expected: { sha256: string; size: number; path: string } | undefined;
  #received = 0;
  #count = 0;

  constructor(readonly dir: string, readonly maxBytes: number) {}

  /** Start the content of `record`; returns the bytes to expect. */
  async begin(record: unknown): Promise<number> {
    const r = record as Record<string, unknown> | null;
    if (r === null || typeof r !== "object" || r.type !== "file") return 0;
    const size = r.size;
    if (!Number.isSafeInteger(size) || (size as number) < 0) {
      throw new ChangesetError(`Changeset entry ${String(r.path)}: bad size`);
    }
    if (typeof r.sha256 !== "string") {
      throw new ChangesetError(`Changeset entry ${String(r.path)}: bad sha256`);
    }
    if (this.total + (size as number) > this.maxBytes) {
      throw new ChangesetError(
        `The guest's changes exceed ${this.maxBytes} bytes; nothing was kept`,
      );
    }
    this.#expected = { sha256: r.sha256, size: size as number, path: String(r.path) };
    this.#received = 0;
    this.#hash = createHash("sha256");
    this.#file = await Deno.open(`${this.dir}/.incoming-${this.#count++}`, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    if (size === 0) await this.end();
    return size as number;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#hash!.update(chunk);
    this.#received += chunk.length;
    this.total += chunk.length;
    for (let written = 0; written < chunk.length;) {
      written += await this.#file!.write(chunk.subarray(written));
    }
  }

  async end(): Promise<void> {
    const expected = this.#expected!;
    const sha256 = this.#hash!.digest("hex");
    this.#file!.close();
    this.#file = undefined;
    const temp = `${this.dir}/.incoming-${this.#count - 1}`;
    if (sha256 !== expected.sha256 || this.#received !== expected.size) {
      throw new ChangesetError(
        `Changeset entry ${expected.path}: content does not match its size and sha256`,
      );
    }
    // Same content, same blob: the first copy stays.
    const target = `${this.dir}/${sha256}`;
    if (await Deno.lstat(target).then(() => true, () => false)) await Deno.remove(temp);
    else await Deno.rename(temp, target);
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
