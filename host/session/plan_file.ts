/**
 * The file through which `run --detach` hands a session's plan to its owner (`plan.json` in the
 * session's runtime directory). The owner trusts what it reads there (the share, the policy, the
 * argv), so the file is created exclusively (never through a planted file or link) with mode
 * 0600, and read only if it is still that: a regular file of ours, mode 0600, one link. What the
 * plan says is validated by its reader; this module guards the file.
 *
 * @module
 */

/** The plan file is missing or not the one agentbox wrote. Code `plan_file_unsafe`. */
export class PlanFileError extends Error {
  readonly code = "plan_file_unsafe";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlanFileError";
  }
}

/**
 * Write `value` as JSON to a new file at `path` (mode 0600). Throws {@linkcode PlanFileError}
 * when anything (a file, a link) is already there.
 *
 * @example
 * ```ts ignore
 * import { writePlanFile } from "./plan_file.ts";
 * await writePlanFile(sessionPaths(id).plan, spec);
 * ```
 */
export async function writePlanFile(path: string, value: unknown): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (cause) {
    throw new PlanFileError(`Cannot write the session's plan ${path}`, { cause });
  }
  try {
    await Deno.chmod(path, 0o600); // whatever the umask took away
    await file.write(new TextEncoder().encode(JSON.stringify(value)));
  } finally {
    file.close();
  }
}

/**
 * Read the JSON at `path` and remove the file. Throws {@linkcode PlanFileError} unless it is a
 * regular file (not a link) owned by this user, mode 0600, with one link, holding JSON.
 *
 * @example
 * ```ts ignore
 * import { takePlanFile } from "./plan_file.ts";
 * const spec = parseDetachedSpec(await takePlanFile(sessionPaths(id).plan));
 * ```
 */
export async function takePlanFile(path: string): Promise<unknown> {
  const refuse = (reason: string, cause?: unknown) =>
    new PlanFileError(`Cannot use the session's plan ${path}: ${reason}`, { cause });
  let named: Deno.FileInfo;
  try {
    named = await Deno.lstat(path);
  } catch (cause) {
    throw refuse("it cannot be read", cause);
  }
  if (named.isSymlink) throw refuse("it is a symbolic link");
  const file = await Deno.open(path, { read: true }).catch((cause) => {
    throw refuse("it cannot be opened", cause);
  });
  let text: string;
  try {
    const info = await file.stat();
    if (!info.isFile || info.ino !== named.ino || info.dev !== named.dev) {
      throw refuse("it is not the regular file it was a moment ago");
    }
    const uid = Deno.uid() ?? 0;
    if (info.uid !== uid) throw refuse(`it belongs to uid ${info.uid}, not to you (uid ${uid})`);
    const mode = (info.mode ?? 0) & 0o7777;
    if (mode !== 0o600) throw refuse(`its mode is ${mode.toString(8).padStart(4, "0")}, not 0600`);
    if (info.nlink !== 1) throw refuse(`it has ${info.nlink} links`);
    if (info.size > MAX_PLAN_BYTES) throw refuse(`it is larger than ${MAX_PLAN_BYTES} bytes`);
    const bytes = new Uint8Array(info.size);
    let at = 0;
    while (at < bytes.length) {
      const n = await file.read(bytes.subarray(at));
      if (n === null) break;
      at += n;
    }
    text = new TextDecoder().decode(bytes.subarray(0, at));
  } finally {
    file.close();
  }
  await Deno.remove(path);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw refuse("it is not JSON", cause);
  }
}

/** A plan is a few KiB; refuse to read a huge file into memory. */
const MAX_PLAN_BYTES = 16 * 1024 * 1024;
