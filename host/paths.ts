/**
 * Where agentbox keeps things on disk, following the XDG base directory spec with fallbacks for
 * root and CI, where the variables are usually unset.
 *
 * @module
 */

function home(): string {
  return Deno.env.get("HOME") || "/root";
}

function xdg(variable: string, fallback: string): string {
  const value = Deno.env.get(variable);
  // The spec says relative values are invalid and must be ignored.
  return value && value.startsWith("/") ? value : fallback;
}

/**
 * Runtime files (sockets, pid files): `$XDG_RUNTIME_DIR/agentbox`, else
 * `/tmp/agentbox-<uid>`.
 *
 * @example
 * ```ts
 * import { runtimeDir } from "./paths.ts";
 * console.log(runtimeDir()); // e.g. /run/user/1000/agentbox
 * ```
 */
export function runtimeDir(): string {
  const base = Deno.env.get("XDG_RUNTIME_DIR");
  if (base && base.startsWith("/")) return `${base}/agentbox`;
  return `/tmp/agentbox-${Deno.uid() ?? 0}`;
}

/** Durable state (overlays, `agentbox.db`): `$XDG_STATE_HOME/agentbox`. */
export function stateDir(): string {
  return `${xdg("XDG_STATE_HOME", `${home()}/.local/state`)}/agentbox`;
}

/** Data (images): `$XDG_DATA_HOME/agentbox`. */
export function dataDir(): string {
  return `${xdg("XDG_DATA_HOME", `${home()}/.local/share`)}/agentbox`;
}

/** Caches (downloaded packages): `$XDG_CACHE_HOME/agentbox`. */
export function cacheDir(): string {
  return `${xdg("XDG_CACHE_HOME", `${home()}/.cache`)}/agentbox`;
}

/** User configuration: `$XDG_CONFIG_HOME/agentbox`. */
export function configDir(): string {
  return `${xdg("XDG_CONFIG_HOME", `${home()}/.config`)}/agentbox`;
}

/**
 * Create a fresh private directory for one VM's runtime files and return its path.
 *
 * @example
 * ```ts
 * import { makeVmRuntimeDir } from "./paths.ts";
 * const dir = await makeVmRuntimeDir();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function makeVmRuntimeDir(): Promise<string> {
  const base = runtimeDir();
  await Deno.mkdir(base, { recursive: true, mode: 0o700 });
  return await Deno.makeTempDir({ dir: base, prefix: "vm-" });
}
