/**
 * A file that takes at most a fixed number of bytes, then one note that the rest was dropped:
 * where a detached session's first command writes its output. The guest decides how much it
 * prints; the host's disk is not the guest's to fill.
 *
 * @module
 */

/** Default cap of a command log. */
export const COMMAND_LOG_BYTES = 8 * 1024 * 1024;

/** An open capped log; any number of writers share its cap. */
export interface CappedLog {
  /** A new writer (stdout and stderr each take one). Closing it leaves the log open. */
  writer(): WritableStream<Uint8Array>;
  close(): void;
}

/**
 * Open (appending) `path`, taking at most `maxBytes` in all. A writer never blocks on the cap:
 * once it is reached, what follows is dropped.
 *
 * @example
 * ```ts
 * import { openCappedLog } from "./capped_log.ts";
 * declare const run: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> };
 * const log = await openCappedLog("/state/sessions/x/command.log");
 * await Promise.all([run.stdout.pipeTo(log.writer()), run.stderr.pipeTo(log.writer())]);
 * log.close();
 * ```
 */
export async function openCappedLog(
  path: string,
  maxBytes = COMMAND_LOG_BYTES,
): Promise<CappedLog> {
  const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  let written = (await file.stat()).size;
  let noted = false;
  let queue = Promise.resolve();
  const append = async (chunk: Uint8Array) => {
    const part = chunk.subarray(0, Math.max(0, maxBytes - written));
    written += part.length;
    for (let n = 0; n < part.length;) n += await file.write(part.subarray(n));
    if (part.length < chunk.length && !noted) {
      noted = true;
      await file.write(new TextEncoder().encode("\n[agentbox: log full, output dropped]\n"));
    }
  };
  return {
    writer: () =>
      new WritableStream({
        write: (chunk) => queue = queue.then(() => append(chunk)),
      }),
    close: () => file.close(),
  };
}
