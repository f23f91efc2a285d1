/**
 * Copying files between the host and a running session (`agentbox cp`), streamed through the
 * session's owner and its agent: a host path into any guest path, or a guest path onto the host
 * under the same path and mode rules as an apply (workspace/receive_files.ts).
 *
 * @module
 */

import { posix } from "node:path";
import { AgentboxError, UsageError } from "../agentbox_error.ts";
import { WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import { connectSession, label } from "../session/session_client.ts";
import {
  type FilesDestination,
  type ReceivedFiles,
  receiveFiles,
} from "../workspace/receive_files.ts";
import { sendFiles, type SentFiles } from "../workspace/send_files.ts";
import type { ApiContext } from "./context.ts";
import { delay } from "../delay.ts";

/**
 * A guest path as the agent takes it: absolute, normalised; a relative one is taken from
 * `/workspace` (the shared project's directory in the guest).
 *
 * @example
 * ```ts
 * import { guestPath } from "./files.ts";
 * console.assert(guestPath("src/../out") === "/workspace/out");
 * console.assert(guestPath("/etc/hosts") === "/etc/hosts");
 * ```
 */
export function guestPath(path: string): string {
  if (path === "" || path.includes("\0")) {
    throw new UsageError("A guest path must not be empty or contain NUL", { code: "path_invalid" });
  }
  const absolute = path.startsWith("/") ? path : `${WORKSPACE_DIR}/${path}`;
  return posix.normalize(absolute).replace(/(.)\/+$/, "$1");
}

/** What {@linkcode copyToSession} sent. */
export interface CopyInReport extends SentFiles {
  /** The guest path given, as the agent took it. */
  guestPath: string;
}

/**
 * Copy `source` (a host file, directory or link; links are copied as links) into the running
 * session `session` at `dest`: into it when it is a directory in the guest, as it otherwise. New
 * files belong to the session's default user. Throws `SessionError`, `AgentError`
 * (`files_failed`: the guest could not write it), `AgentboxError` `path_not_found`.
 *
 * @example
 * ```ts ignore
 * import { copyToSession } from "./files.ts";
 * await copyToSession(ctx, { session: "web", source: "/home/me/notes", dest: "/tmp" });
 * ```
 */
export async function copyToSession(
  ctx: ApiContext,
  request: { session: string; source: string; dest: string },
): Promise<CopyInReport> {
  const dest = guestPath(request.dest);
  await Deno.lstat(request.source).catch((cause) => {
    throw new AgentboxError(`Cannot copy ${request.source}: it does not exist on the host`, {
      cause,
      kind: "not_found",
      code: "path_not_found",
    });
  });
  const { agent } = await connectSession(ctx.db, request.session);
  try {
    const { data, sent } = sendFiles(request.source);
    await agent.writeFiles(dest, data);
    return { ...sent, guestPath: dest };
  } finally {
    agent.close();
  }
}

/**
 * Copy `source` (a guest path) of the running session `session` to the host path `dest`: into it
 * when it is a directory, as it otherwise (its parent must exist). Guest links are copied as
 * links and never followed; names, paths and modes follow apply's rules, and what they refuse is
 * skipped and reported. Throws `SessionError`, `AgentError` (`files_failed`: no such guest path),
 * `ChangesetError` (the guest's stream was bad: nothing kept), `UnsafePathError`-based failures,
 * `UsageError` (`path_invalid`).
 *
 * @example
 * ```ts ignore
 * import { copyFromSession } from "./files.ts";
 * const report = await copyFromSession(ctx, { session: "web", source: "out", dest: "/tmp/x" });
 * ```
 */
export async function copyFromSession(
  ctx: ApiContext,
  request: { session: string; source: string; dest: string; exactModes?: boolean },
): Promise<ReceivedFiles> {
  const source = guestPath(request.source);
  const dest = await hostDestination(request.dest);
  const { session, agent } = await connectSession(ctx.db, request.session);
  try {
    const { data, entries } = agent.readFiles(source);
    try {
      return await receiveFiles(data, dest, {
        announced: entries,
        exactModes: request.exactModes,
      });
    } catch (error) {
      // A refusal cuts the data short: the agent's reason is the one to tell.
      const refusal = await Promise.race([
        entries.then(() => undefined, (reason) => reason),
        delay(1000),
      ]);
      throw refusal ?? error;
    }
  } catch (error) {
    if (error instanceof AgentboxError) throw error;
    throw new AgentboxError(`Cannot copy ${source} from session ${label(session)}`, {
      cause: error,
      kind: "failed",
      code: "copy_failed",
    });
  } finally {
    agent.close();
  }
}

/** Where a copy to the host path `dest` lands: into it when a directory, else as it. */
async function hostDestination(dest: string): Promise<FilesDestination> {
  if (!dest.startsWith("/") || dest.includes("\0")) {
    throw new UsageError(`The host path ${dest} must be absolute`, { code: "path_invalid" });
  }
  const info = await Deno.stat(dest).catch(() => null);
  if (info?.isDirectory) return { dir: await Deno.realPath(dest) };
  const trimmed = dest.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  const parent = trimmed.slice(0, trimmed.lastIndexOf("/")) || "/";
  const parentInfo = await Deno.stat(parent).catch(() => null);
  if (!parentInfo?.isDirectory || name === "." || name === ".." || name === "") {
    throw new UsageError(`Cannot copy to ${dest}: ${parent} is not a directory on the host`, {
      code: "path_invalid",
    });
  }
  return { dir: await Deno.realPath(parent), name };
}
