/**
 * Read a descriptor Deno does not own without ever leaving a read pending: wait for input with
 * `poll` (on a worker thread, in short slices, so the caller can give up between two), then
 * `read` what is there. A stopped reader leaves nothing behind that could take the next bytes —
 * which matters for a terminal that is handed back to someone else afterwards.
 *
 * @module
 */

import { EAGAIN, EINTR, errno, libc, POLLIN } from "./libc.ts";

/** How long one `poll` waits before the caller is asked whether to go on. */
export const POLL_SLICE_MS = 100;

/**
 * Wait up to `ms` for `events` on `fd`; resolves with the events that happened (0 on timeout).
 *
 * @example
 * ```ts
 * import { pollFd } from "./poll_read.ts";
 * import { POLLIN } from "./libc.ts";
 * if (await pollFd(0, POLLIN, 100) & POLLIN) console.log("input waiting");
 * ```
 */
export async function pollFd(fd: number, events: number, ms = POLL_SLICE_MS): Promise<number> {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  const ready = await libc().poll(pollfd, 1n, ms);
  return ready > 0 ? view.getInt16(6, true) : 0;
}

/**
 * Read once from `fd` into `buffer` when it has input: resolves with the byte count, or null at
 * end of input (EOF, hang-up, or an error such as EIO from a pseudo-terminal master whose slaves
 * are all closed), or when `stop()` turned true while waiting.
 *
 * @example
 * ```ts
 * import { readWhenReady } from "./poll_read.ts";
 * const buffer = new Uint8Array(4096);
 * const n = await readWhenReady(0, buffer, { stop: () => false });
 * ```
 */
export async function readWhenReady(
  fd: number,
  buffer: Uint8Array,
  options: { stop: () => boolean; wait?: (fd: number) => Promise<number> },
): Promise<number | null> {
  const wait = options.wait ?? ((fd: number) => pollFd(fd, POLLIN));
  while (!options.stop()) {
    const events = await wait(fd);
    if (events === 0 || options.stop()) continue;
    const n = Number(libc().read(fd, buffer, BigInt(buffer.length)));
    if (n > 0) return n;
    if (n === 0) return null;
    const error = errno();
    if (error !== EAGAIN && error !== EINTR) return null;
  }
  return null;
}
