/**
 * SHA-256 of files, streamed so that a 100 MB binary is never held in memory twice.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * Hex SHA-256 of the file at `path`.
 *
 * @example
 * ```ts
 * import { sha256File } from "./hash.ts";
 * console.log(await sha256File("/etc/hostname"));
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk); // closes the file at the end
  return hash.digest("hex");
}
