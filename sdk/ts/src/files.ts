/**
 * A sandbox's guest files: `/v1/sandboxes/{id}/files…`. Paths are guest paths; a relative one is
 * taken from /workspace.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AgentboxError } from "./errors.ts";
import type { Body, Transport } from "./transport.ts";
import type { GuestEntry } from "./types.ts";

/** Options every file operation takes. */
export interface FileOptions {
  /** The guest user to act as (default: the image's). */
  user?: string;
}

/** Options of `files.write`. */
export interface WriteOptions extends FileOptions {
  /** The file's mode, e.g. `0o755` or `"755"` (default 644, or the existing file's). */
  mode?: number | string;
}

/**
 * The files of one sandbox (`sandbox.files`).
 *
 * @example
 * ```ts ignore
 * await sandbox.files.write("notes.txt", "hello\n");
 * const bytes = await sandbox.files.read("notes.txt");
 * ```
 */
export class Files {
  readonly #transport: Transport;
  readonly #base: string;

  constructor(transport: Transport, id: string) {
    this.#transport = transport;
    this.#base = `/v1/sandboxes/${encodeURIComponent(id)}/files`;
  }

  /** A file's bytes. */
  async read(path: string, options: FileOptions = {}): Promise<Uint8Array> {
    return await (await this.#get(path, options, false)).bytes();
  }

  /** A file as UTF-8 text. */
  async readText(path: string, options: FileOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.read(path, options));
  }

  /** A file's bytes as a stream (for large files). */
  async readStream(path: string, options: FileOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return toStream((await this.#get(path, options, false)).body);
  }

  /** A directory as a tar archive, streamed. */
  async readTar(path: string, options: FileOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return toStream((await this.#get(path, options, true)).body);
  }

  /** Write a file (its parent directories made) from bytes, text, or a stream. */
  async write(path: string, data: Body, options: WriteOptions = {}): Promise<void> {
    await this.#put(path, data, options, false);
  }

  /** Unpack a tar archive into the directory `path`. */
  async writeTar(path: string, tar: Body, options: FileOptions = {}): Promise<void> {
    await this.#put(path, tar, options, true);
  }

  /** A directory's entries (`depth` levels down, default 1), sorted by path. */
  async list(path: string, options: FileOptions & { depth?: number } = {}): Promise<GuestEntry[]> {
    const reply = await this.#transport.request("GET", `${this.#base}/list`, {
      query: { path, user: options.user, depth: options.depth },
    });
    return (await reply.json<{ entries: GuestEntry[] }>()).entries;
  }

  /** A path's type, size, mode and time (a link is not followed). */
  async stat(path: string, options: FileOptions = {}): Promise<GuestEntry> {
    const reply = await this.#transport.request("GET", `${this.#base}/stat`, {
      query: { path, user: options.user },
    });
    return await reply.json<GuestEntry>();
  }

  /** Whether `path` exists. */
  async exists(path: string, options: FileOptions = {}): Promise<boolean> {
    try {
      await this.stat(path, options);
      return true;
    } catch (error) {
      if (error instanceof AgentboxError && error.kind === "not_found") return false;
      throw error;
    }
  }

  /** Make a directory and its parents; false when it existed. */
  async mkdir(path: string, options: FileOptions = {}): Promise<boolean> {
    const reply = await this.#transport.request("POST", `${this.#base}/mkdir`, {
      query: { path, user: options.user },
    });
    return (await reply.json<{ created: boolean }>()).created;
  }

  /** Move (rename) a path. */
  async move(from: string, to: string, options: FileOptions = {}): Promise<void> {
    await (await this.#transport.request("POST", `${this.#base}/move`, {
      json: { from, to, user: options.user },
    })).bytes();
  }

  /** Remove a path (recursively). */
  async remove(path: string, options: FileOptions = {}): Promise<void> {
    await (await this.#transport.request("DELETE", this.#base, {
      query: { path, user: options.user },
    })).bytes();
  }

  async #get(path: string, options: FileOptions, tar: boolean) {
    return await this.#transport.request("GET", this.#base, {
      query: { path, user: options.user, tar: tar || undefined },
    });
  }

  async #put(path: string, data: Body, options: WriteOptions, tar: boolean): Promise<void> {
    const mode = typeof options.mode === "number" ? options.mode.toString(8) : options.mode;
    if (mode !== undefined && !/^[0-7]{3,4}$/.test(mode)) {
      throw new AgentboxError(`mode ${JSON.stringify(options.mode)}: expected e.g. 0o644`, {
        kind: "usage",
        code: "client_options",
        status: 0,
      });
    }
    const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    await (await this.#transport.request("PUT", this.#base, {
      query: { path, user: options.user, tar: tar || undefined, mode },
      body,
    })).bytes();
  }
}

function toStream(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
