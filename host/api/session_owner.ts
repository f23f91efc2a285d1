/**
 * Long-lived (detached) sessions: start one — an owner process that outlives the caller — and,
 * in that owner, own it: the one sandbox lifecycle (sandbox.ts) kept running behind a control
 * socket until it is asked to stop, its first command running in the background with the same
 * defaults as any other command of the session.
 *
 * @module
 */

import { z } from "zod";
import { UsageError } from "../agentbox_error.ts";
import { openCappedLog } from "../session/capped_log.ts";
import { type ControlServer, serveControl } from "../session/control_server.ts";
import { pinnedLowerPath } from "../session/pinned_lower.ts";
import type { SessionPaths } from "../session/session_paths.ts";
import { readSnapshot } from "../session/snapshot_store.ts";
import { startOwner } from "../session/start_owner.ts";
import { type LifecycleRecord, nameTaken, setSessionStatus } from "../store/session_lifecycle.ts";
import { isValidName, NAME_RULE } from "../session/names.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import type { ApiContext } from "./context.ts";
import { type Sandbox, startSandbox } from "./sandbox.ts";
import { SANDBOX_SPEC_SCHEMA } from "./sandbox_spec.ts";

/** How long starting a session waits beyond the boot timeout (packing a share). */
const START_MARGIN_MS = 5 * 60_000;

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The schema of a {@linkcode DetachedPlan}; unknown keys are refused. */
export const DETACHED_PLAN_SCHEMA = z.strictObject({
  id: z.string().regex(SESSION_ID, "is not a session id"),
  name: z.string().refine(isValidName, NAME_RULE).optional(),
  spec: SANDBOX_SPEC_SCHEMA,
  /** Run the spec's command when the session is up, its output going to `command.log`. */
  runCommand: z.boolean(),
  /** Start from this snapshot (a fork) instead of booting. */
  restore: z.string().max(64).optional(),
  /** `--yes`: with `--net learn`, write what was learned (nobody is there to ask). */
  learnYes: z.boolean().default(false),
});

/** What a new session's owner is handed (its `plan.json`). */
export type DetachedPlan = z.infer<typeof DETACHED_PLAN_SCHEMA>;

/**
 * Validate a detached plan read from `source`. Throws a `UsageError` (`plan_invalid`).
 *
 * @example
 * ```ts
 * import { parseDetachedPlan } from "./session_owner.ts";
 * const plan = parseDetachedPlan({
 *   id: "0f3c2a9e-0000-4000-8000-000000000000",
 *   spec: { argv: ["sh"], projectDir: "/src/app" },
 *   runCommand: false,
 * }, "plan.json");
 * console.assert(plan.spec.image === "default");
 * ```
 */
export function parseDetachedPlan(value: unknown, source: string): DetachedPlan {
  const parsed = DETACHED_PLAN_SCHEMA.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UsageError(
    `Invalid session plan in ${source}: ${issue.path.join(".")}: ${issue.message}`,
    {
      code: "plan_invalid",
    },
  );
}

/**
 * Start a detached session from `request` (an id is picked), and resolve with its record once it
 * runs. Throws `UsageError` (`name_taken`) when the name is taken, `SessionStartError` when the
 * owner fails.
 *
 * @example
 * ```ts ignore
 * import { startDetachedSession } from "./session_owner.ts";
 * const session = await startDetachedSession(ctx, { spec, runCommand: true });
 * console.log(session.id);
 * ```
 */
export async function startDetachedSession(
  ctx: ApiContext,
  request: Omit<z.input<typeof DETACHED_PLAN_SCHEMA>, "id">,
): Promise<LifecycleRecord> {
  if (request.name !== undefined && nameTaken(ctx.db, request.name)) {
    throw new UsageError(
      `A session named ${request.name} exists: pick another name, or \`agentbox rm ${request.name}\` it`,
      { code: "name_taken" },
    );
  }
  const id = crypto.randomUUID();
  const plan = parseDetachedPlan({ ...request, id }, "the request");
  return await startOwner(ctx.db, id, {
    spec: plan,
    timeoutMs: VM_DEFAULTS.bootTimeoutMs + START_MARGIN_MS,
    // The owner works from the spec's project directory, never from where it was started.
    cwd: "/",
  });
}

/** Options of {@linkcode ownSession}. */
export interface OwnSessionOptions {
  paths: SessionPaths;
  /** Resolves when the session is asked to stop (`agentbox stop`: SIGTERM to the owner). */
  stopped: Promise<void>;
}

/**
 * Own the session `plan` describes until it is asked to stop or its VM ends: start the sandbox
 * (booted, or restored from `plan.restore`), serve its control socket, run the first command,
 * and on stop collect the workspace's changes and stop everything. The session's status is
 * recorded at each step (`running`, then `stopped` or `failed`).
 *
 * @example
 * ```ts ignore
 * import { ownSession } from "./session_owner.ts";
 * await ownSession(ctx, plan, { paths: sessionPaths(plan.id), stopped });
 * ```
 */
export async function ownSession(
  ctx: ApiContext,
  plan: DetachedPlan,
  options: OwnSessionOptions,
): Promise<void> {
  const { paths } = options;
  const log = (message: string) => ctx.onEvent({ type: "progress", message });
  const fail = (error: unknown) => {
    const detail = error instanceof Error ? error.message : "unknown failure";
    setSessionStatus(ctx.db, plan.id, "failed", { detail });
  };
  let box: Sandbox;
  try {
    const restore = plan.restore === undefined ? undefined : await readSnapshot(plan.restore);
    log(restore ? `restoring snapshot ${restore.name}` : `session ${plan.id} booting`);
    box = await startSandbox(ctx, plan.spec, {
      session: { id: plan.id, lifecycle: { name: plan.name, ownerPid: Deno.pid } },
      pinLower: true,
      restore,
      // Nobody can be asked in a detached session: learn mode writes only with --yes.
      confirmLearned: plan.learnYes ? () => true : undefined,
    });
  } catch (error) {
    fail(error);
    throw error;
  }
  let detail: string | undefined;
  let server: ControlServer | undefined;
  try {
    server = serveControl(paths.controlSocket, box.vm.agent, box.defaults, {
      saveSnapshot: async (dir) => {
        log(`saving a snapshot into ${dir}`);
        await box.saveSnapshot(dir, { name: plan.name ?? null });
        log("snapshot saved");
      },
    });
    setSessionStatus(ctx.db, plan.id, "running", { controlSocket: paths.controlSocket });
    log("session running");
    if (plan.runCommand) runFirstCommand(box, `${paths.state}/command.log`, log);
    const end = await Promise.race([options.stopped.then(() => "stop" as const), box.vm.exited]);
    await server.close();
    if (end !== "stop") {
      detail = `the VM stopped on its own (exit status ${end.code}); its workspace can be ` +
        "recovered with `agentbox diff`";
    } else if (box.workspace) {
      log("stopping: collecting the workspace's changes");
      const changes = await box.collectChanges();
      await Deno.remove(pinnedLowerPath(paths.state)).catch(() => {});
      log(`collected ${changes?.entries.length ?? 0} changes (${changes?.bytes ?? 0} bytes)`);
    }
    if (end === "stop") await collectSystem(box, log);
  } catch (error) {
    fail(error);
    throw error;
  } finally {
    await server?.close();
    await box.stop();
  }
  setSessionStatus(ctx.db, plan.id, "stopped", { detail });
  log(`session stopped${detail ? `: ${detail}` : ""}`);
}

/**
 * Collect the root filesystem's changes for `agentbox diff --system`. A failure (an image built
 * before the feature, a change over the quota) is logged, never fails the stop.
 */
async function collectSystem(box: Sandbox, log: (line: string) => void): Promise<void> {
  log("stopping: collecting the system's changes");
  try {
    const system = await box.collectSystemChanges();
    log(`collected ${system.records} system changes (${system.bytes} bytes)`);
  } catch (error) {
    log(`system changes not collected: ${error instanceof Error ? error.message : "failure"}`);
  }
}

/**
 * The session's first command, in the background, as any command of the session (its defaults:
 * the image's user, the preset's and proxy's environment); its output goes to `logPath`. Nothing
 * it does — not even the VM stopping under it — escapes as an unhandled rejection.
 */
function runFirstCommand(box: Sandbox, logPath: string, log: (line: string) => void): void {
  (async () => {
    const output = await openCappedLog(logPath);
    try {
      const run = box.exec(box.command());
      const [, , result] = await Promise.all([
        run.stdout.pipeTo(output.writer()),
        run.stderr.pipeTo(output.writer()),
        run.result,
      ]);
      log(
        `command ${JSON.stringify(box.spec.argv[0].slice(0, 200))} ended: ${
          JSON.stringify(result)
        }`,
      );
    } finally {
      output.close();
    }
  })().catch((error) =>
    log(`command did not finish: ${error instanceof Error ? error.message : "unknown failure"}`)
  );
}
