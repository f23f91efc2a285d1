/**
 * Bound the time of one step (rule 9: bound everything, time included).
 *
 * @module
 */

import { ProxyError } from "./proxy_error.ts";

/**
 * Await `promise`, but after `ms` milliseconds call `onExpire` (typically: close the connection,
 * which makes the pending read fail) and reject with {@linkcode ProxyError} `timeout`.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * const value = await withDeadline(Promise.resolve(1), 1000, () => {}, "reading the head");
 * ```
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onExpire: () => void,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new ProxyError("timeout", `Timed out ${what}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
