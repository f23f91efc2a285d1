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
 * Why agentbox will not use a runtime directory: another user made it, could write in it, or
 * could swap it. Code `runtime_dir_unsafe`.
 */
export class RuntimeDirError extends Error {
  readonly code = "runtime_dir_unsafe";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RuntimeDirError";
  }
}

/**
 * Runtime files (sockets, locks, the plan handed to a session's owner, the KVM probe's cache): a
 * private directory no other user can have made first, write in, or swap.
 *
 * - `$XDG_RUNTIME_DIR/agentbox` when `XDG_RUNTIME_DIR` is a directory of ours that nobody else
 *   can write (the spec's mode 0700). Another user's (`su` and `sudo -E` keep the variable) is
 *   passed over.
 * - else `/run/user/<uid>/agentbox` when that directory exists and is ours;
 * - else `$XDG_STATE_HOME/agentbox/run` (root, cron, CI and containers usually land here). Never
 *   a predictable name in a shared directory such as /tmp.
 *
 * The directory is made if missing (mode 0700, never through a link) and checked on every call:
 * a real directory (`lstat`), owned by us, mode 0700, and every directory above it owned by us
 * or root and writable by nobody else (sticky ones such as /tmp excepted). Throws
 * {@linkcode RuntimeDirError} when the chosen directory fails a check.
 *
 * @example
 * ```ts
 * import { runtimeDir } from "./paths.ts";
 * console.log(runtimeDir()); // e.g. /run/user/1000/agentbox
 * ```
 */
export function runtimeDir(): string {
  const uid = Deno.uid() ?? 0;
  const candidates = [Deno.env.get("XDG_RUNTIME_DIR"), `/run/user/${uid}`];
  for (const base of candidates) {
    if (base?.startsWith("/") && isPrivateDir(base, uid)) return privateDir(`${base}/agentbox`);
  }
  const state = stateDir();
  Deno.mkdirSync(state, { recursive: true, mode: 0o700 });
  return privateDir(`${state}/run`);
}

/** Whether `path` is a directory (not a link) of `uid` that only `uid` can enter. */
function isPrivateDir(path: string, uid: number): boolean {
  const info = lstatOrUndefined(path);
  return !!info?.isDirectory && info.uid === uid && ((info.mode ?? 0) & 0o077) === 0 &&
    trustedAncestors(path) === undefined;
}

/** `path`, made (mode 0700, its parent existing) if missing, after the checks of runtimeDir. */
function privateDir(path: string): string {
  const uid = Deno.uid() ?? 0;
  const unsafe = (reason: string) =>
    new RuntimeDirError(
      `Cannot use the runtime directory ${path}: ${reason}; remove it or set XDG_RUNTIME_DIR ` +
        "to a directory of yours (mode 0700)",
    );
  const parentProblem = trustedAncestors(path);
  if (parentProblem) throw unsafe(parentProblem);
  try {
    Deno.mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw new RuntimeDirError(`Cannot create the runtime directory ${path}`, { cause: error });
    }
  }
  const info = Deno.lstatSync(path);
  if (info.isSymlink) throw unsafe("it is a symbolic link");
  if (!info.isDirectory) throw unsafe("it is not a directory");
  if (info.uid !== uid) throw unsafe(`it belongs to uid ${info.uid}, not to you (uid ${uid})`);
  const mode = (info.mode ?? 0) & 0o7777;
  if (mode !== 0o700) {
    throw unsafe(
      `its mode is ${
        mode.toString(8).padStart(4, "0")
      }, not 0700 (others could have written in it)`,
    );
  }
  return path;
}

/**
 * Why a directory above `path` would let another user swap `path` (owned by someone other than
 * us or root, or writable by group or others without the sticky bit), or `undefined`.
 */
function trustedAncestors(path: string): string | undefined {
  const uid = Deno.uid() ?? 0;
  let parent: string;
  try {
    parent = Deno.realPathSync(path.slice(0, path.lastIndexOf("/")) || "/");
  } catch (error) {
    return `its parent cannot be resolved (${(error as Error).message})`;
  }
  const parts = parent.split("/").filter((p) => p !== "");
  for (let i = parts.length; i >= 0; i--) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    const info = lstatOrUndefined(dir);
    if (!info) return `${dir} cannot be examined`;
    const mode = info.mode ?? 0;
    if (info.uid !== uid && info.uid !== 0) return `${dir} belongs to uid ${info.uid}`;
    if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      return `${dir} is writable by other users`;
    }
  }
  return undefined;
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
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
  return await Deno.makeTempDir({ dir: runtimeDir(), prefix: "vm-" });
}
