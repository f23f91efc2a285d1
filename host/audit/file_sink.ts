/**
 * The JSON-lines audit sink: one event per line, appended to a file (created 0600) that is
 * rotated by size — `audit.jsonl` becomes `audit.jsonl.1`, `.1` becomes `.2`, and so on; the
 * oldest beyond `maxFiles` is removed — so the trail never takes more than about
 * `maxBytes × maxFiles` of disk. A batch is one write.
 *
 * @module
 */

import type { AuditSink } from "./sink_queue.ts";

/** Options of {@linkcode fileSink}. */
export interface FileSinkOptions {
  /** Absolute path of the live file. */
  path: string;
  /** Rotate when the live file would grow beyond this many bytes (default 10 MiB). */
  maxBytes?: number;
  /** Files kept, the live one included (default 5; 1 = truncate instead of keeping any). */
  maxFiles?: number;
}

/**
 * A sink appending to `options.path`.
 *
 * @example
 * ```ts
 * import { fileSink } from "./file_sink.ts";
 * import { sealEvent } from "./seal_event.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = fileSink({ path: `${dir}/audit.jsonl` });
 * await sink.deliver([sealEvent({ type: "sandbox.removed", session: { id: "s" } }, "cli:me")]);
 * await sink.close();
 * ```
 */
export function fileSink(options: FileSinkOptions): AuditSink {
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 5;
  const encoder = new TextEncoder();
  let file: Deno.FsFile | undefined;
  let size = 0;
  const open = async () => {
    file = await Deno.open(options.path, { create: true, append: true, mode: 0o600 });
    size = (await file.stat()).size;
  };
  const rotate = async () => {
    file?.close();
    file = undefined;
    if (maxFiles <= 1) {
      await Deno.remove(options.path).catch(() => {});
    } else {
      await Deno.remove(`${options.path}.${maxFiles - 1}`).catch(() => {});
      for (let n = maxFiles - 2; n >= 1; n--) {
        await Deno.rename(`${options.path}.${n}`, `${options.path}.${n + 1}`).catch(() => {});
      }
      await Deno.rename(options.path, `${options.path}.1`).catch(() => {});
    }
    await open();
  };
  return {
    name: `file ${options.path}`,
    async deliver(batch) {
      if (!file) await open();
      let chunk: Uint8Array[] = [];
      let chunkBytes = 0;
      const flush = async () => {
        if (chunkBytes === 0) return;
        const bytes = new Uint8Array(chunkBytes);
        let at = 0;
        for (const part of chunk) {
          bytes.set(part, at);
          at += part.length;
        }
        await writeAll(file!, bytes);
        size += chunkBytes;
        chunk = [];
        chunkBytes = 0;
      };
      for (const event of batch) {
        const line = encoder.encode(JSON.stringify(event) + "\n");
        if (size + chunkBytes + line.length > maxBytes && size + chunkBytes > 0) {
          await flush();
          await rotate();
        }
        chunk.push(line);
        chunkBytes += line.length;
      }
      await flush();
    },
    close() {
      file?.close();
      file = undefined;
      return Promise.resolve();
    },
  };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}
