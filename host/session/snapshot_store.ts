/**
 * Session snapshots on disk: `$XDG_STATE_HOME/agentbox/snapshots/<name>/`, each holding the VM's
 * memory and device state (`state`), copies of the session's workspace disks and baseline
 * (`workspace/`), and `manifest.json` (what session it came from and how to start its VM again).
 * A snapshot is written under a temporary name and renamed into place when complete, so a
 * listed snapshot is always whole.
 *
 * @module
 */

import { z } from "zod";
import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";
import { stateDir } from "../paths.ts";
import { isValidName, NAME_RULE } from "./names.ts";

/** A snapshot is unknown, exists already or has a bad name. The message says what to do. */
export class SnapshotError extends AgentboxError {
  /**
   * `code`: `snapshot_bad_name` (kind `usage`), `snapshot_unknown` (`not_found`),
   * `snapshot_exists` (`conflict`), `snapshot_unreadable`, `snapshot_incompatible` (`failed`).
   */
  constructor(
    message: string,
    options: ErrorOptions & { code: keyof typeof SNAPSHOT_ERROR_KINDS },
  ) {
    super(message, { ...options, kind: SNAPSHOT_ERROR_KINDS[options.code] });
    this.name = "SnapshotError";
  }
}

const SNAPSHOT_ERROR_KINDS = {
  snapshot_bad_name: "usage",
  snapshot_unknown: "not_found",
  snapshot_exists: "conflict",
  snapshot_unreadable: "failed",
  snapshot_incompatible: "failed",
} as const;

/** Bumped when the layout changes, so that an old snapshot is refused rather than misread. */
export const SNAPSHOT_FORMAT = 2;

/** Which disks the VM had: the session's workspace, empty placeholders, or none. */
export type SnapshotDisks = "workspace" | "placeholders" | "none";

/** The image and shape of a snapshot's VM. */
export interface SnapshotVm {
  image: string;
  cpus: number;
  memoryMb: number;
}

/** `manifest.json` of a snapshot. Times are milliseconds since the epoch. */
export interface SnapshotManifest {
  format: number;
  source: { id: string; name: string | null };
  createdAt: number;
  /**
   * The request the source session was started with (image, VM shape, network, env, project):
   * opaque here, validated by the core (`host/api/sandbox_spec.ts`) before any use.
   */
  spec: unknown;
  /** The VM the state was saved from: restoring needs the same image and shape. */
  vm: SnapshotVm;
  disks: SnapshotDisks;
  /** The build of the image the VM ran (template.ts `imageDigest`): restoring needs the same. */
  imageDigest: string;
}

/** A listed snapshot. */
export interface SnapshotInfo {
  name: string;
  dir: string;
  manifest: SnapshotManifest;
  /** Bytes the snapshot's files take on disk (sparse disks count what they use). */
  bytes: number;
}

/**
 * Where snapshots are kept.
 *
 * @example
 * ```ts
 * import { snapshotsDir } from "./snapshot_store.ts";
 * console.log(snapshotsDir()); // e.g. /home/me/.local/state/agentbox/snapshots
 * ```
 */
export function snapshotsDir(): string {
  return `${stateDir()}/snapshots`;
}

/**
 * The files of one snapshot directory.
 *
 * @example
 * ```ts
 * import { snapshotFiles } from "./snapshot_store.ts";
 * console.assert(snapshotFiles("/s/x").state === "/s/x/state");
 * ```
 */
export function snapshotFiles(dir: string) {
  return {
    state: `${dir}/state`,
    manifest: `${dir}/manifest.json`,
    /** Laid out as a session's `workspace/` (changeset.ts), so a session can adopt it. */
    workspace: `${dir}/workspace`,
  };
}

/**
 * Check `name` and return its directory. Throws {@linkcode SnapshotError} for a bad name.
 *
 * @example
 * ```ts
 * import { snapshotDir } from "./snapshot_store.ts";
 * console.assert(snapshotDir("before-upgrade").endsWith("/snapshots/before-upgrade"));
 * ```
 */
export function snapshotDir(name: string): string {
  if (!isValidName(name)) {
    throw new SnapshotError(`Snapshot name ${JSON.stringify(name.slice(0, 80))}: ${NAME_RULE}`, {
      code: "snapshot_bad_name",
    });
  }
  return `${snapshotsDir()}/${name}`;
}

/**
 * The snapshot `name`. Throws {@linkcode SnapshotError} when there is none or it is unreadable.
 *
 * @example
 * ```ts
 * import { readSnapshot } from "./snapshot_store.ts";
 * console.log((await readSnapshot("base")).manifest.source.id);
 * ```
 */
export async function readSnapshot(name: string): Promise<SnapshotInfo> {
  const dir = snapshotDir(name);
  let manifest: SnapshotManifest;
  try {
    manifest = parseManifest(JSON.parse(await Deno.readTextFile(snapshotFiles(dir).manifest)));
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new SnapshotError(`No snapshot named ${name}: see \`agentbox snapshot ls\``, {
        code: "snapshot_unknown",
      });
    }
    if (cause instanceof SnapshotError) throw cause;
    throw new SnapshotError(`Cannot read snapshot ${name}`, { cause, code: "snapshot_unreadable" });
  }
  return { name, dir, manifest, bytes: await diskUsage(dir) };
}

const MANIFEST_SCHEMA = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  source: z.object({ id: z.string().max(64), name: z.string().max(64).nullable() }),
  createdAt: z.number().int().min(0),
  spec: z.unknown(),
  vm: z.object({
    image: z.string().max(64),
    cpus: z.number().int().min(1).max(64),
    memoryMb: z.number().int().min(1),
  }),
  disks: z.enum(["workspace", "placeholders", "none"]),
  imageDigest: z.string().max(128),
});

/**
 * A manifest read from disk, validated. Format 1 (before the core's sandbox spec) kept the
 * CLI's plan: its VM fields are read from it, and the plan is handed on as the spec.
 */
function parseManifest(value: unknown): SnapshotManifest {
  const format = z.object({ format: z.number() }).safeParse(value);
  if (format.success && format.data.format === 1) {
    const old = z.object({ plan: z.looseObject({}) }).parse(value).plan;
    value = {
      ...(value as Record<string, unknown>),
      format: SNAPSHOT_FORMAT,
      spec: old,
      vm: { image: old.image ?? "default", cpus: old.cpus, memoryMb: old.memoryMb },
    };
  } else if (format.success && format.data.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(
      `This snapshot was made by another version of agentbox (format ${format.data.format})`,
      { code: "snapshot_incompatible" },
    );
  }
  const parsed = MANIFEST_SCHEMA.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SnapshotError(`Invalid manifest: ${issue.path.join(".")}: ${issue.message}`, {
      code: "snapshot_unreadable",
    });
  }
  return parsed.data;
}

/**
 * Every complete snapshot, oldest first (unreadable ones are skipped).
 *
 * @example
 * ```ts
 * import { listSnapshots } from "./snapshot_store.ts";
 * for (const s of await listSnapshots()) console.log(s.name, s.bytes);
 * ```
 */
export async function listSnapshots(): Promise<SnapshotInfo[]> {
  const found: SnapshotInfo[] = [];
  try {
    for await (const entry of Deno.readDir(snapshotsDir())) {
      if (!entry.isDirectory || !isValidName(entry.name)) continue;
      const info = await readSnapshot(entry.name).catch(() => undefined);
      if (info) found.push(info);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort((a, b) => a.manifest.createdAt - b.manifest.createdAt);
}

/**
 * Remove the snapshot `name`. Throws {@linkcode SnapshotError} when there is none. Sessions
 * restored from it are not affected: they have their own copies of its disks.
 *
 * @example
 * ```ts
 * import { removeSnapshot } from "./snapshot_store.ts";
 * await removeSnapshot("base");
 * ```
 */
export async function removeSnapshot(name: string): Promise<void> {
  const { dir } = await readSnapshot(name);
  // Renamed away first, so that a half-removed snapshot is never listed.
  const doomed = `${snapshotsDir()}/.removing-${crypto.randomUUID()}`;
  await Deno.rename(dir, doomed);
  await Deno.remove(doomed, { recursive: true });
}

/**
 * A new, empty directory for a snapshot being written; {@linkcode publishSnapshot} renames it to
 * its name. Throws {@linkcode SnapshotError} when the name is bad or taken.
 *
 * @example
 * ```ts
 * import { newSnapshotDir } from "./snapshot_store.ts";
 * const temp = await newSnapshotDir("base");
 * ```
 */
export async function newSnapshotDir(name: string): Promise<string> {
  const dir = snapshotDir(name);
  if (await exists(dir)) throw nameTaken(name);
  await Deno.mkdir(snapshotsDir(), { recursive: true, mode: 0o700 });
  return await Deno.makeTempDir({ dir: snapshotsDir(), prefix: `.new-${name}-` });
}

/**
 * Rename the complete snapshot in `temp` to `name`; removes `temp` and throws
 * {@linkcode SnapshotError} when the name was taken meanwhile.
 *
 * @example
 * ```ts
 * import { newSnapshotDir, publishSnapshot } from "./snapshot_store.ts";
 * const temp = await newSnapshotDir("base");
 * // … write the snapshot into temp …
 * await publishSnapshot(temp, "base");
 * ```
 */
export async function publishSnapshot(temp: string, name: string): Promise<void> {
  const dir = snapshotDir(name);
  // rename(2) replaces an empty directory: create-exclusive the name first.
  try {
    await Deno.mkdir(dir);
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    if (error instanceof Deno.errors.AlreadyExists) throw nameTaken(name);
    throw error;
  }
  await Deno.rename(temp, dir);
}

/**
 * Copy a (sparse) disk image: holes stay holes, and a file system that can share blocks
 * (reflinks) copies nothing at all. Throws `Error` when `cp` fails.
 *
 * @example
 * ```ts
 * import { copySparse } from "./snapshot_store.ts";
 * await copySparse("/s/a/workspace/upper.ext4", "/s/b/workspace/upper.ext4");
 * ```
 */
export async function copySparse(from: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", {
    args: ["--sparse=always", "--reflink=auto", "--", from, to],
    env: helperEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot copy ${from}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

function nameTaken(name: string): SnapshotError {
  return new SnapshotError(
    `A snapshot named ${name} exists: pick another name, or \`agentbox snapshot rm ${name}\` it`,
    { code: "snapshot_exists" },
  );
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Blocks in use under `dir`, in bytes. */
async function diskUsage(dir: string): Promise<number> {
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) bytes += await diskUsage(path);
    else if (entry.isFile) {
      const info = await Deno.stat(path);
      bytes += info.blocks !== null ? info.blocks * 512 : info.size;
    }
  }
  return bytes;
}
