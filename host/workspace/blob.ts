/**
 * Changeset blobs are written by the guest side of the transfer: their content is only trusted
 * once its size and SHA-256 match the record, checked while the bytes flow.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { lstatIfExists } from "./safe_path.ts";

const CHUNK = 256 * 1024;

/** What a file record promises about its blob. */
export interface BlobRef {
  sha256: string;
  size: number;
}

/**
 * Why the blob for `ref` in `blobsDir` cannot be used (missing, not a regular file, wrong size or
 * hash), or `undefined` when it matches.
 *
 * @example
 * ```ts
 * import { blobProblem } from "./blob.ts";
 * console.log(await blobProblem("/nonexistent", { sha256: "0".repeat(64), size: 0 }));
 * // content missing from the changeset
 * ```
 */
export async function blobProblem(blobsDir: string, ref: BlobRef): Promise<string | undefined> {
  const path = `${blobsDir}/${ref.sha256}`;
  const info = await lstatIfExists(path);
  if (info === null) return "content missing from the changeset";
  if (!info.isFile) return "content in the changeset is not a regular file";
  if (info.size !== ref.size) return "content size does not match its record";
  try {
    await copyVerified(path, () => Promise.resolve(), ref);
  } catch (error) {
    if (error instanceof BlobMismatchError) return error.message;
    throw error;
  }
  return undefined;
}

/** A blob whose bytes do not match its record. */
export class BlobMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlobMismatchError";
  }
}

/**
 * Stream the file at `path` into `sink`, hashing as it goes; throws {@linkcode BlobMismatchError}
 * as soon as it exceeds `ref.size`, or at the end when size or hash differ. The caller discards
 * what `sink` received on error.
 *
 * @example
 * ```ts
 * import { copyVerified } from "./blob.ts";
 * const path = await Deno.makeTempFile();
 * const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
 * await copyVerified(path, () => Promise.resolve(), { sha256, size: 0 });
 * ```
 */
export async function copyVerified(
  path: string,
  sink: (bytes: Uint8Array) => Promise<void>,
  ref: BlobRef,
): Promise<void> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK);
  let size = 0;
  using file = await Deno.open(path, { read: true });
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    size += n;
    if (size > ref.size) throw new BlobMismatchError("content is larger than its record says");
    const chunk = buffer.subarray(0, n);
    hash.update(chunk);
    await sink(chunk);
  }
  if (size !== ref.size) throw new BlobMismatchError("content size does not match its record");
  if (hash.digest("hex") !== ref.sha256) {
    throw new BlobMismatchError("content does not match its SHA-256");
  }
}

/**
 * A sink for {@linkcode copyVerified} that writes every byte to `file` (short writes retried).
 *
 * @example
 * ```ts
 * import { fileSink } from "./blob.ts";
 * using file = await Deno.open(await Deno.makeTempFile(), { write: true });
 * await fileSink(file)(new Uint8Array([1, 2, 3]));
 * ```
 */
export function fileSink(file: Deno.FsFile): (bytes: Uint8Array) => Promise<void> {
  return async (bytes) => {
    for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
  };
}

/** Size of the blocks {@linkcode SparseWriter} looks at: all-zero ones become holes. */
const SPARSE_BLOCK = 64 * 1024;

/**
 * Writes a file front to back, leaving a hole wherever a whole block is zeros, where the file
 * system allows (on one that does not, seeking past the end and writing later still reads back
 * as zeros). A guest's sparse file stays sparse on the host: the host stores its data, not its
 * apparent size. `beforeData` is told each block's size before it is written (a place to refuse
 * it).
 *
 * @example
 * ```ts
 * import { SparseWriter } from "./blob.ts";
 * using file = await Deno.open(await Deno.makeTempFile(), { write: true });
 * const writer = new SparseWriter(file);
 * await writer.write(new Uint8Array(1024 * 1024));
 * await writer.finish(); // 1 MiB long, no data block allocated
 * ```
 */
export class SparseWriter {
  #block = new Uint8Array(SPARSE_BLOCK);
  #words = new Uint32Array(this.#block.buffer);
  #fill = 0;
  #hole = 0;
  #length = 0;

  constructor(
    readonly file: Deno.FsFile,
    readonly beforeData: (bytes: number) => void = () => {},
  ) {}

  /** Bytes of data written (holes not counted). */
  dataBytes = 0;

  /** Append `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, SPARSE_BLOCK - this.#fill);
      this.#block.set(bytes.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === SPARSE_BLOCK) await this.#flush();
    }
  }

  /** Write what is buffered and give the file its full length (a trailing hole included). */
  async finish(): Promise<void> {
    await this.#flush();
    if (this.#hole > 0) await this.file.truncate(this.#length);
  }

  async #flush(): Promise<void> {
    const length = this.#fill;
    if (length === 0) return;
    this.#fill = 0;
    this.#length += length;
    if (this.#isZero(length)) {
      this.#hole += length;
      return;
    }
    this.beforeData(length);
    if (this.#hole > 0) {
      await this.file.seek(this.#hole, Deno.SeekMode.Current);
      this.#hole = 0;
    }
    const data = this.#block.subarray(0, length);
    for (let offset = 0; offset < length;) offset += await this.file.write(data.subarray(offset));
    this.dataBytes += length;
  }

  #isZero(length: number): boolean {
    const words = length >>> 2;
    for (let i = 0; i < words; i++) if (this.#words[i] !== 0) return false;
    for (let i = words << 2; i < length; i++) if (this.#block[i] !== 0) return false;
    return true;
  }
}
