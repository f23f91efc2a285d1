/**
 * Write host-made files into a running guest in one exec: a cpio archive on the command's stdin,
 * unpacked at `/` by busybox `cpio`. Used for the TLS inspection CA and trust bundle.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { type CpioEntry, writeCpio } from "../../image/cpio.ts";
import { AGENT_DEADLINES, type AgentClient } from "../channel/agent_client.ts";

/** A file to place in the guest: absolute path, text, permission bits. */
export interface GuestFileSpec {
  path: string;
  contents: string;
  mode: number;
}

/** Writing files into the guest failed; the message carries what the guest said. */
export class GuestFilesError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "guest", code: "guest_files_failed" });
    this.name = "GuestFilesError";
  }
}

/**
 * Place `files` in the guest, creating parent directories, replacing existing files.
 *
 * @example
 * ```ts
 * import { installGuestFiles } from "./guest_files.ts";
 * import type { RunningVm } from "../vm/running_vm.ts";
 * declare const vm: RunningVm;
 * await installGuestFiles(vm.agent, [{ path: "/etc/motd", contents: "hi\n", mode: 0o644 }]);
 * ```
 */
export async function installGuestFiles(agent: AgentClient, files: GuestFileSpec[]): Promise<void> {
  if (files.length === 0) return;
  const failed = await unpackInGuest(agent, writeCpio(archiveEntries(files)), { dir: "/" });
  if (failed !== undefined) {
    throw new GuestFilesError(`Cannot write files into the VM: ${failed.slice(0, 500)}`);
  }
}

/**
 * Unpack the cpio `archive` in the guest under `dir` (a `$HOME` to expand, or a path), as `user`
 * (default the agent's) with `env`; returns cpio's output when it fails, else undefined.
 *
 * @example
 * ```ts ignore
 * import { unpackInGuest } from "./guest_files.ts";
 * const failed = await unpackInGuest(agent, archive, { dir: "$HOME", user: "agent" });
 * ```
 */
export async function unpackInGuest(
  agent: AgentClient,
  archive: Uint8Array,
  where: { dir: string; user?: string; env?: Record<string, string> },
): Promise<string | undefined> {
  const run = agent.exec({
    argv: ["sh", "-c", 'cd "$1" && exec cpio -idmu 2>&1', "sh", where.dir],
    user: where.user,
    env: where.env,
    stdin: ReadableStream.from([archive]),
    deadlineMs: AGENT_DEADLINES.hostCommandMs,
  });
  const [output, , result] = await Promise.all([
    new Response(run.stdout).text(),
    run.stderr.cancel(),
    run.result,
  ]);
  return result.code === 0 ? undefined : output.trim();
}

/** Each file with its parent directories first, paths relative to `/`. */
function archiveEntries(files: GuestFileSpec[]): CpioEntry[] {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const encoder = new TextEncoder();
  for (const file of files) {
    if (!file.path.startsWith("/") || file.path.split("/").includes("..")) {
      throw new GuestFilesError(`Not an absolute guest path: ${file.path}`);
    }
    const parts = file.path.slice(1).split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!dirs.has(dir)) entries.push({ path: dir, type: "dir", mode: 0o755 });
      dirs.add(dir);
    }
    entries.push({
      path: parts.join("/"),
      type: "file",
      data: encoder.encode(file.contents),
      mode: file.mode,
    });
  }
  return entries;
}
