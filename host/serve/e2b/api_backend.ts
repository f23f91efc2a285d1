/**
 * The E2B server's backend over host/api: a sandbox is a detached session started with
 * `startDetachedSession` (no first command), stopped with `stopSessions` (its workspace changes
 * collected for `agentbox diff`), its agent reached with `connectToSession`.
 *
 * @module
 */

import { join } from "node:path";
import { AgentboxError } from "../../api/errors.ts";
import type { ApiContext } from "../../api/context.ts";
import { listImageSummaries } from "../../api/images.ts";
import { parseSandboxSpec } from "../../api/sandbox_spec.ts";
import { connectToSession } from "../../api/session_connect.ts";
import { startDetachedSession } from "../../api/session_owner.ts";
import { stopSessions } from "../../api/sessions.ts";
import { stateDir } from "../../paths.ts";
import type { E2bBackend, E2bCreateRequest } from "./sandboxes.ts";

/** Options of {@linkcode apiBackend}. */
export interface ApiBackendOptions {
  /**
   * The directory every sandbox shares at /workspace (and reads its `.agentbox.toml` from).
   * Absent: each sandbox gets an empty directory of its own under the state directory, so that
   * `agentbox diff` shows exactly what the E2B code wrote there.
   */
  share?: string;
  /** How long a stop waits for the session's owner. */
  stopTimeoutMs?: number;
}

/** Where sandboxes without a given share get their empty workspace. */
export function e2bWorkspacesDir(): string {
  return join(stateDir(), "e2b-workspaces");
}

/**
 * A backend that runs sandboxes as sessions of the user's database.
 *
 * @example
 * ```ts ignore
 * import { apiBackend } from "./api_backend.ts";
 * import { E2bSandboxes } from "./sandboxes.ts";
 * const sandboxes = new E2bSandboxes(apiBackend(ctx));
 * ```
 */
export function apiBackend(ctx: ApiContext, options: ApiBackendOptions = {}): E2bBackend {
  return {
    async start(request: E2bCreateRequest) {
      // E2B's "template not found" (404), before any session is made for it.
      const images = (await listImageSummaries()).images;
      if (!images.some((i) => i.name === request.template && i.status === "ok")) {
        throw new AgentboxError(
          `Template ${request.template} not found: it names no built agentbox image ` +
            "(`agentbox images ls`)",
          { kind: "not_found", code: "e2b_template_unknown" },
        );
      }
      let share = options.share;
      if (share === undefined) {
        const base = e2bWorkspacesDir();
        await Deno.mkdir(base, { recursive: true, mode: 0o700 });
        share = await Deno.makeTempDir({ dir: base, prefix: "sandbox-" });
      }
      const spec = parseSandboxSpec({
        argv: ["/bin/sh"],
        env: request.envs,
        image: request.template,
        net: request.net,
        allow: request.allow,
        deny: request.deny,
        share,
        projectDir: share,
      }, "the E2B request");
      const record = await startDetachedSession(ctx, { spec, runCommand: false });
      return { id: record.id, cpus: spec.cpus, memoryMb: spec.memoryMb };
    },
    async stop(id: string) {
      await stopSessions(ctx, [id], {
        kill: false,
        timeoutMs: options.stopTimeoutMs ?? 120_000,
        graceMs: 2_000,
      });
    },
    async connect(id: string) {
      return (await connectToSession(id)).agent;
    },
  };
}
