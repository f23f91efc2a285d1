/**
 * The persistent agent home: what an agent keeps in the guest user's home (`~/.claude`,
 * `~/.claude.json`, `~/.codex`, …) survives the VM. At the start of a session the saved archive is
 * unpacked in the guest's home (by the guest's own `tar`, as the guest user) and the agent's
 * configuration is seeded (agent_seed.ts); when the session stops, the guest packs those paths
 * again and the host stores the bytes as they came — an opaque archive, never unpacked or parsed
 * on the host (the guest wrote it). Archives live in `$XDG_STATE_HOME/agentbox/agent-homes/`,
 * 0700, one per agent (or per agent and project), each 0600. A subscription login made inside the
 * sandbox is stored there too, and the guest sees it on the next run.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { AgentboxError } from "../agentbox_error.ts";
import { AGENT_DEADLINES, type AgentClient } from "../channel/agent_client.ts";
import { AGENT_NAME, HOME_PATH } from "../config/agent_presets.ts";
import type { SeedContext, Seeder } from "../config/agent_seed.ts";
import { stateDir } from "../paths.ts";
import { writeCpio } from "../../image/cpio.ts";
import { unpackInGuest } from "./guest_files.ts";

/** The largest archive kept: a home that packs bigger is not saved (the previous one stays). */
export const MAX_HOME_BYTES = 1 << 30;

/** The largest configuration file the seed reads back from the guest. */
const MAX_SEED_READ_BYTES = 16 << 20;

/** Where an agent's home is kept: per user, or per user and project. */
export type AgentHomeScope = "user" | "project";

/** A problem with the agent home (saving, restoring, seeding). */
export class AgentHomeError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, { ...options, kind: "failed", code: options?.code ?? "agent_home_failed" });
    this.name = "AgentHomeError";
  }
}

/**
 * The directory of all agent homes: `$XDG_STATE_HOME/agentbox/agent-homes`.
 *
 * @example
 * ```ts
 * import { agentHomesDir } from "./agent_home.ts";
 * console.log(agentHomesDir());
 * ```
 */
export function agentHomesDir(): string {
  return join(stateDir(), "agent-homes");
}

/**
 * The archive of `agent`'s home: `<agent>/home.tar`, or `<agent>/project-<digest>.tar` for a
 * per-project home (the digest of the project directory's path).
 *
 * @example
 * ```ts
 * import { agentHomeArchive } from "./agent_home.ts";
 * agentHomeArchive("claude", "user", "/src/app").endsWith("/claude/home.tar"); // true
 * ```
 */
export function agentHomeArchive(agent: string, scope: AgentHomeScope, projectDir: string): string {
  if (!AGENT_NAME.test(agent)) {
    throw new AgentHomeError(`Invalid agent name "${agent}"`, { code: "agent_invalid" });
  }
  const file = scope === "user"
    ? "home.tar"
    : `project-${createHash("sha256").update(projectDir).digest("hex").slice(0, 16)}.tar`;
  return join(agentHomesDir(), agent, file);
}

/** The guest side of one session's agent home. */
export interface GuestHome {
  agent: AgentClient;
  /** The guest user the agent runs as (absent: root, as commands run without a user). */
  user?: string;
  /** That user's home directory in the guest. */
  home: string;
  /** Home-relative paths kept (the preset's `home`). */
  paths: readonly string[];
  /** Home-relative paths below those that are not kept (the preset's `homeExclude`). */
  exclude?: readonly string[];
  /** The host archive. */
  archive: string;
}

/**
 * Unpack the saved archive (if any) in the guest user's home. Throws {@linkcode AgentHomeError}
 * with what the guest said when it cannot.
 *
 * @example
 * ```ts ignore
 * import { restoreAgentHome } from "./agent_home.ts";
 * await restoreAgentHome({ agent: vm.agent, user: "agent", home: "/home/agent", paths: [".codex"], archive });
 * ```
 */
export async function restoreAgentHome(home: GuestHome): Promise<boolean> {
  checkPaths(home.paths);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(home.archive, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new AgentHomeError(`Cannot read the agent home ${home.archive}`, { cause: error });
  }
  const run = home.agent.exec({
    argv: ["sh", "-c", 'cd "$HOME" && exec tar -xf - 2>&1'],
    user: home.user,
    env: { HOME: home.home },
    stdin: file.readable,
    deadlineMs: AGENT_DEADLINES.hostCommandMs,
  });
  const [output, , result] = await Promise.all([
    new Response(run.stdout).text(),
    run.stderr.cancel(),
    run.result,
  ]);
  if (result.code !== 0) {
    throw new AgentHomeError(
      `Cannot restore the agent home in the VM: ${output.trim().slice(0, 300)}`,
    );
  }
  return true;
}

/**
 * Seed the agent's configuration in the guest user's home: read the files `seeder` merges into
 * (bounded), compute the seeded files on the host, write them back as the guest user.
 *
 * @example
 * ```ts ignore
 * import { seedAgentHome } from "./agent_home.ts";
 * import { SEEDERS } from "../config/agent_seed.ts";
 * const guest = { agent: vm.agent, user: "agent", home: "/home/agent" };
 * await seedAgentHome(guest, SEEDERS.claude, { workdir: "/workspace", env });
 * ```
 */
export async function seedAgentHome(
  guest: Pick<GuestHome, "agent" | "user" | "home">,
  seeder: Seeder,
  context: SeedContext,
): Promise<void> {
  const existing: Record<string, string | undefined> = {};
  const tooBig = new Set<string>();
  for (const path of seeder.reads) {
    const read = await readHomeFile(guest, path);
    if (read === "too big") tooBig.add(path);
    else existing[path] = read;
  }
  const files = seeder.seed(existing, context).filter((f) => !tooBig.has(f.path));
  checkPaths(files.map((f) => f.path));
  if (files.length === 0) return;
  const encoder = new TextEncoder();
  const archive = writeCpio(files.map((f) => ({
    path: f.path,
    type: "file" as const,
    data: encoder.encode(f.contents),
    mode: f.mode,
  })));
  const failed = await unpackInGuest(guest.agent, archive, {
    dir: guest.home,
    user: guest.user,
    env: { HOME: guest.home },
  });
  if (failed !== undefined) {
    throw new AgentHomeError(
      `Cannot seed the agent's configuration in the VM: ${failed.slice(0, 300)}`,
    );
  }
}

/** A home file's text, `undefined` when it is not there, or "too big". */
async function readHomeFile(
  guest: Pick<GuestHome, "agent" | "user" | "home">,
  path: string,
): Promise<string | undefined | "too big"> {
  const run = guest.agent.exec({
    argv: ["sh", "-c", 'f="$HOME/$1"; [ -f "$f" ] && exec cat -- "$f"', "sh", path],
    user: guest.user,
    env: { HOME: guest.home },
    deadlineMs: AGENT_DEADLINES.hostCommandMs,
  });
  const [bytes, , result] = await Promise.all([
    bounded(run.stdout, MAX_SEED_READ_BYTES),
    run.stderr.cancel(),
    run.result,
  ]);
  if (bytes === undefined) return "too big";
  return result.code === 0 ? new TextDecoder().decode(bytes) : undefined;
}

/**
 * Pack the kept paths in the guest and store the archive on the host (replacing the previous one
 * only once the new one is complete). Returns the archive's size, or `undefined` when nothing
 * was kept. Throws {@linkcode AgentHomeError} when the guest cannot pack them or they are larger
 * than {@linkcode MAX_HOME_BYTES}; the previous archive then stays.
 *
 * @example
 * ```ts ignore
 * import { saveAgentHome } from "./agent_home.ts";
 * await saveAgentHome({ agent: vm.agent, user: "agent", home: "/home/agent", paths: [".codex"], archive });
 * ```
 */
export async function saveAgentHome(home: GuestHome): Promise<number | undefined> {
  const exclude = home.exclude ?? [];
  checkPaths([...home.paths, ...exclude]);
  // The excluded paths are moved aside (a rename, in the home) while tar runs and put back
  // after: busybox's tar has no --exclude. They are plain home paths (checked), so the unquoted
  // words of `moved` are safe.
  const script = [
    'cd "$HOME" || exit 1',
    'x=$1; shift; aside=""; moved=""',
    "while [ $x -gt 0 ]; do",
    '  if [ -e "$1" ] || [ -L "$1" ]; then',
    '    [ -n "$aside" ] || aside=$(mktemp -d "$HOME/.agentbox-aside.XXXXXX") || exit 1',
    '    mv -- "$1" "$aside/$x" || exit 1; moved="$moved $x:$1"',
    "  fi",
    "  shift; x=$((x - 1))",
    "done",
    "n=$#",
    "while [ $n -gt 0 ]; do",
    "  p=$1; shift; n=$((n - 1))",
    '  if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi',
    "done",
    "rc=0",
    '[ $# -eq 0 ] || { tar -cf - -- "$@"; rc=$?; }',
    'for m in $moved; do mv -- "$aside/${m%%:*}" "${m#*:}" || rc=1; done',
    '[ -z "$aside" ] || rmdir -- "$aside"',
    "exit $rc",
  ].join("\n");
  const dir = join(home.archive, "..");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(join(dir, ".."), 0o700);
  await Deno.chmod(dir, 0o700);
  const temp = `${home.archive}.${crypto.randomUUID()}.part`;
  const run = home.agent.exec({
    argv: ["sh", "-c", script, "sh", String(exclude.length), ...exclude, ...home.paths],
    user: home.user,
    env: { HOME: home.home },
    deadlineMs: AGENT_DEADLINES.hostCommandMs,
  });
  let size = 0;
  let over = false;
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    const [stderr, result] = await Promise.all([
      new Response(run.stderr).text(),
      run.result,
      (async () => {
        for await (const chunk of run.stdout) {
          size += chunk.length;
          if (size > MAX_HOME_BYTES) {
            over = true;
            continue;
          }
          let written = 0;
          while (written < chunk.length) written += await file.write(chunk.subarray(written));
        }
      })(),
    ]);
    file.close();
    if (over) {
      throw new AgentHomeError(
        `The agent home is larger than ${MAX_HOME_BYTES >> 20} MiB: not saved (the previous one ` +
          "stays); clear it with `agentbox agents reset`",
        { code: "agent_home_too_large" },
      );
    }
    if (result.code !== 0) {
      throw new AgentHomeError(
        `Cannot save the agent home from the VM: ${stderr.trim().slice(0, 300)}`,
      );
    }
    if (size === 0) {
      await Deno.remove(temp);
      return undefined;
    }
    await Deno.rename(temp, home.archive);
    return size;
  } catch (error) {
    try {
      file.close();
    } catch {
      // Closed already.
    }
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Throws unless every path is a plain home-relative path. */
function checkPaths(paths: readonly string[]): void {
  for (const path of paths) {
    if (!HOME_PATH.test(path)) {
      throw new AgentHomeError(`Invalid agent home path "${path}": use a path relative to ~`, {
        code: "agent_home_path_invalid",
      });
    }
  }
}

/** A stream's bytes, or `undefined` past `limit` (the rest is drained). */
async function bounded(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) return undefined;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
