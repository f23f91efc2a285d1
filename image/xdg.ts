/**
 * XDG base directories used by the image code, with the usual fallbacks when the variables are
 * unset (root and CI included: the same rule applies to every user).
 *
 * @module
 */

import { join } from "node:path";
import { ImageError } from "./errors.ts";

function home(): string {
  const value = Deno.env.get("HOME");
  if (!value) throw new ImageError("Cannot find the home directory: HOME is not set");
  return value;
}

function base(variable: string, fallback: string[]): string {
  const value = Deno.env.get(variable);
  // The XDG spec says relative values are invalid and must be ignored.
  return value && value.startsWith("/") ? value : join(home(), ...fallback);
}

/**
 * `$XDG_DATA_HOME/agentbox`, else `~/.local/share/agentbox`.
 *
 * @example
 * ```ts
 * import { dataDir } from "./xdg.ts";
 * console.log(dataDir()); // e.g. /root/.local/share/agentbox
 * ```
 */
export function dataDir(): string {
  return join(base("XDG_DATA_HOME", [".local", "share"]), "agentbox");
}

/**
 * `$XDG_CACHE_HOME/agentbox`, else `~/.cache/agentbox`.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./xdg.ts";
 * console.log(cacheDir()); // e.g. /root/.cache/agentbox
 * ```
 */
export function cacheDir(): string {
  return join(base("XDG_CACHE_HOME", [".cache"]), "agentbox");
}
