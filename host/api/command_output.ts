/**
 * The output of a session's command (`run --detach -- CMD`) without attaching: what its terminal
 * showed, from the session's `command.log`, as `docker logs` gives a container's.
 *
 * @module
 */

import { observedState } from "../session/session_liveness.ts";
import { resolveSession } from "../session/session_client.ts";
import { sessionPaths } from "../session/session_paths.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import type { ApiContext } from "./context.ts";
import { isAlive } from "./sessions.ts";

/** How often a followed log is read again. */
const FOLLOW_POLL_MS = 200;

/** Options of {@linkcode commandOutput}. */
export interface CommandOutputOptions {
  /** Keep reading as the command writes, until the session ends. */
  follow?: boolean;
  /** Start with only the last this many lines. */
  tail?: number;
}

/**
 * The bytes of the session's command output, oldest first; with `follow`, then the new ones until
 * the session is no longer alive. A session without a command yields nothing. Throws
 * `SessionError` (`session_unknown`).
 *
 * @example
 * ```ts ignore
 * import { commandOutput } from "./command_output.ts";
 * for await (const chunk of commandOutput(ctx, "web", { tail: 20 })) {
 *   await Deno.stdout.write(chunk);
 * }
 * ```
 */
export async function* commandOutput(
  ctx: Pick<ApiContext, "db">,
  ref: string,
  options: CommandOutputOptions = {},
): AsyncGenerator<Uint8Array> {
  const session = resolveSession(ctx.db, ref);
  const path = sessionPaths(session.id).commandLog;
  const file = await openIfThere(path);
  let offset = file && options.tail !== undefined ? await tailOffset(file, options.tail) : 0;
  const buffer = new Uint8Array(64 * 1024);
  let current = file;
  try {
    while (true) {
      current ??= await openIfThere(path);
      if (current) {
        await current.seek(offset, Deno.SeekMode.Start);
        while (true) {
          const n = await current.read(buffer);
          if (n === null || n === 0) break;
          offset += n;
          yield buffer.slice(0, n);
        }
      }
      if (!options.follow) return;
      const now = findLifecycle(ctx.db, session.id);
      if (!now || !isAlive(await observedState(now))) {
        // One last read: what was written between the read above and the end.
        if (!current) return;
        await current.seek(offset, Deno.SeekMode.Start);
        for (let n; (n = await current.read(buffer)) !== null && n > 0;) yield buffer.slice(0, n);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  } finally {
    current?.close();
  }
}

async function openIfThere(path: string): Promise<Deno.FsFile | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return undefined;
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The offset where the last `lines` lines of `file` begin (a last line without `\n` counts). */
async function tailOffset(file: Deno.FsFile, lines: number): Promise<number> {
  const size = (await file.stat()).size;
  if (lines === 0) return size;
  const block = new Uint8Array(64 * 1024);
  let end = size;
  let seen = 0;
  // A final newline ends the last line; it does not start another.
  let skipFinal = true;
  while (end > 0) {
    const start = Math.max(0, end - block.length);
    await file.seek(start, Deno.SeekMode.Start);
    const chunk = block.subarray(0, end - start);
    let got = 0;
    while (got < chunk.length) {
      const n = await file.read(chunk.subarray(got));
      if (n === null) break;
      got += n;
    }
    for (let i = got - 1; i >= 0; i--) {
      if (chunk[i] !== 0x0a) continue;
      if (skipFinal && start + i === size - 1) continue;
      if (++seen === lines) return start + i + 1;
    }
    skipFinal = false;
    end = start;
  }
  return 0;
}
