/**
 * Long-lived (detached) sessions: start one — an owner process that outlives the caller — and,
 * in that owner, own it: the one sandbox lifecycle (sandbox.ts) kept running behind a control
 * socket until it is asked to stop, its first command running in the background with the same
 * defaults as any other command of the session.
 *
 * @module
 */

import { z } from "zod";
import { AgentboxError, UsageError } from "../agentbox_error.ts";
import { type CappedLog, openCappedLog } from "../session/capped_log.ts";
import { type CommandConsole, startConsole } from "../session/command_console.ts";
import { type ControlServer, serveControl } from "../session/control_server.ts";
import { pinnedLowerPath } from "../session/pinned_lower.ts";
import { tryOwnerLock } from "../session/owner_lock.ts";
import { takePlanFile, writePlanFile } from "../session/plan_file.ts";
import { type SessionPaths, sessionPaths } from "../session/session_paths.ts";
import { label, resolveSession } from "../session/session_client.ts";
import { observedState } from "../session/session_liveness.ts";
import { readSnapshot } from "../session/snapshot_store.ts";
import { DEFAULT_FORWARD_ADDRESS, formatForwardAddress } from "../net/port_mapping.ts";
import { handPlan, startOwner } from "../session/start_owner.ts";
import type { StandbyOwners } from "./standby.ts";
import {
  type LifecycleRecord,
  nameTaken,
  reopenLifecycle,
  setSessionStatus,
} from "../store/session_lifecycle.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { DEFAULT_STOP_GRACE_MS } from "../session/stop_owner.ts";
import { isValidName, NAME_RULE } from "../session/names.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { auditExec, errorInfo, sessionAuditor } from "./audit.ts";
import type { ApiContext } from "./context.ts";
import { DEFAULT_APPROVAL_TIMEOUT_MS } from "./approval_gate.ts";
import { type Sandbox, startSandbox } from "./sandbox.ts";
import { SANDBOX_SPEC_SCHEMA } from "./sandbox_spec.ts";
import type { OneWarmVm } from "./warm_pool.ts";

/** How long starting a session waits beyond the boot timeout (packing a share). */
const START_MARGIN_MS = 5 * 60_000;

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The schema of a {@linkcode DetachedPlan}; unknown keys are refused. */
export const DETACHED_PLAN_SCHEMA = z.strictObject({
  id: z.string().regex(SESSION_ID, "is not a session id"),
  name: z.string().refine(isValidName, NAME_RULE).optional(),
  spec: SANDBOX_SPEC_SCHEMA,
  /**
   * Run the spec's command when the session is up, on a terminal that `agentbox attach` reaches,
   * its output going to `command.log`.
   */
  runCommand: z.boolean(),
  /** Start from this snapshot (a fork) instead of booting. */
  restore: z.string().max(64).optional(),
  /** `--yes`: with `--net learn`, write what was learned (nobody is there to ask). */
  learnYes: z.boolean().default(false),
  /** A stopped session started again (`agentbox start`): boot over its own workspace disks. */
  restart: z.boolean().default(false),
  /**
   * Ask graylisted destinations through the approval queue (api/approvals.ts: `agentbox
   * approve`, the server), each waiting at most `timeoutMs`; `false`: refuse them, as when
   * nobody can be asked. Default: asked, 30 s.
   */
  approvals: z.union([
    z.literal(false),
    z.strictObject({ timeoutMs: z.number().int().min(1000).max(3_600_000) }),
  ]).default({ timeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS }),
  /** Labels a client gave the session (`agentbox serve`), to find it again. */
  labels: z.record(z.string().max(63), z.string().max(256)).default({}),
  /** Who asked for the session through `agentbox serve` (a token's name). */
  createdBy: z.string().max(64).optional(),
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
 * ```ts
 * import { startDetachedSession } from "./session_owner.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * import type { SandboxSpec } from "./sandbox_spec.ts";
 * declare const spec: SandboxSpec;
 * const session = await startDetachedSession(ctx, { spec, runCommand: true });
 * console.log(session.id);
 * ```
 */
export async function startDetachedSession(
  ctx: ApiContext,
  request: Omit<z.input<typeof DETACHED_PLAN_SCHEMA>, "id">,
  options: {
    /**
     * Variables for the owner's environment: the values of the spec's `credentials` (their
     * `secretEnv`), which are never written to disk. A restarted session does not have them.
     */
    ownerEnv?: Record<string, string>;
    /**
     * Standby owners (`agentbox serve --pool-sessions`): a ready one takes the session, on its
     * warm VM. Not for a session with `ownerEnv` (fixed when an owner starts) or a snapshot.
     */
    standby?: StandbyOwners;
  } = {},
): Promise<LifecycleRecord> {
  if (request.name !== undefined && nameTaken(ctx.db, request.name)) {
    throw new UsageError(
      `A session named ${request.name} exists: pick another name, or \`agentbox rm ${request.name}\` it`,
      { code: "name_taken" },
    );
  }
  const timeoutMs = VM_DEFAULTS.bootTimeoutMs + START_MARGIN_MS;
  const usable = options.standby && Object.keys(options.ownerEnv ?? {}).length === 0 &&
    request.restore === undefined;
  const standing = usable ? await options.standby!.take() : undefined;
  if (standing) {
    const plan = parseDetachedPlan({ ...request, id: standing.id }, "the request");
    return await handPlan(ctx.db, standing.id, plan, standing.owner.status, timeoutMs);
  }
  const id = crypto.randomUUID();
  const plan = parseDetachedPlan({ ...request, id }, "the request");
  return await startOwner(ctx.db, id, {
    spec: plan,
    timeoutMs,
    // The owner works from the spec's project directory, never from where it was started.
    cwd: "/",
    env: options.ownerEnv,
  });
}

/** A detached session this process has become the owner of: see {@linkcode claimSession}. */
export interface ClaimedSession {
  paths: SessionPaths;
  /**
   * Read and validate the plan `run --detach` left (only if it is still the private file it
   * made; removed once read).
   */
  readPlan(): Promise<DetachedPlan>;
  /** Remove the session's runtime directory and give the ownership back. */
  release(): Promise<void>;
}

/**
 * Become the owner of session `id` (its lock), before anything else of it exists. Throws
 * {@linkcode UsageError} (`owner_exists`) when another process owns it.
 *
 * @example
 * ```ts
 * import { claimSession } from "./session_owner.ts";
 * declare const id: string;
 * const claim = await claimSession(id);
 * try {
 *   const plan = await claim.readPlan();
 * } finally {
 *   await claim.release();
 * }
 * ```
 */
export async function claimSession(id: string): Promise<ClaimedSession> {
  const paths = sessionPaths(id);
  const lock = await tryOwnerLock(paths.lock);
  if (!lock) throw new UsageError(`Session ${id} already has an owner`, { code: "owner_exists" });
  return {
    paths,
    async readPlan() {
      const plan = parseDetachedPlan(await takePlanFile(paths.plan), paths.plan);
      if (plan.id !== id) {
        throw new UsageError(`${paths.plan} is the plan of another session`, {
          code: "plan_invalid",
        });
      }
      return plan;
    },
    async release() {
      await Deno.remove(paths.runtime, { recursive: true }).catch(() => {});
      lock.release();
    },
  };
}

/** Options of {@linkcode ownSession}. */
export interface OwnSessionOptions {
  paths: SessionPaths;
  /** Resolves when the session is asked to stop (`agentbox stop`: SIGTERM to the owner). */
  stopped: Promise<void>;
  /**
   * A warm VM the session may start on (a standby owner's: api/standby.ts); released once the
   * sandbox has started (or failed to) if it did not fit.
   */
  warm?: OneWarmVm;
}

/**
 * Own the session `plan` describes until it is asked to stop or its VM ends: start the sandbox
 * (booted, or restored from `plan.restore`), serve its control socket, run the first command,
 * and on stop collect the workspace's changes and stop everything. The session's status is
 * recorded at each step (`running`, then `stopped` or `failed`).
 *
 * @example
 * ```ts
 * import { type DetachedPlan, ownSession } from "./session_owner.ts";
 * import { sessionPaths } from "../session/session_paths.ts";
 * declare const plan: DetachedPlan, stopped: Promise<void>;
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * await ownSession(ctx, plan, { paths: sessionPaths(plan.id), stopped });
 * ```
 */
export async function ownSession(
  owner: ApiContext,
  plan: DetachedPlan,
  options: OwnSessionOptions,
): Promise<void> {
  // What the session does is done for whoever created it (a server's client), in audit events.
  const ctx = plan.createdBy === undefined ? owner : { ...owner, actor: plan.createdBy };
  const { paths } = options;
  const log = (message: string) => ctx.onEvent({ type: "progress", message });
  const fail = (error: unknown) => {
    const detail = error instanceof Error ? error.message : "unknown failure";
    setSessionStatus(ctx.db, plan.id, "failed", { detail });
  };
  const audit = sessionAuditor(ctx, { id: plan.id, name: plan.name });
  let box: Sandbox;
  try {
    const restore = plan.restore === undefined || plan.restart
      ? undefined
      : await readSnapshot(plan.restore);
    log(
      restore
        ? `restoring snapshot ${restore.name}`
        : `session ${plan.id} ${plan.restart ? "starting again" : "booting"}`,
    );
    box = await startSandbox(ctx, plan.spec, {
      session: {
        id: plan.id,
        lifecycle: { name: plan.name, ownerPid: Deno.pid },
        reopen: plan.restart,
      },
      pinLower: true,
      resumeWorkspace: plan.restart,
      restore,
      // Nobody can be asked in a detached session: learn mode writes only with --yes.
      confirmLearned: plan.learnYes ? () => true : undefined,
      // Graylisted hosts wait in the approval queue for `agentbox approve` or the server.
      approvals: plan.approvals === false ? undefined : plan.approvals,
      warm: options.warm,
    });
    // What `agentbox start` needs to boot this session again: its plan, kept with its state.
    if (!plan.restart) await writePlanFile(savedPlanPath(paths), { ...plan, restart: false });
  } catch (error) {
    fail(error);
    throw error;
  } finally {
    // A warm VM the sandbox did not fit is not kept waiting for the session's life.
    await options.warm?.release();
  }
  let detail: string | undefined;
  let server: ControlServer | undefined;
  let commandConsole: CommandConsole | undefined;
  const stop = Promise.withResolvers<number>();
  options.stopped.then(() => stop.resolve(DEFAULT_STOP_GRACE_MS));
  try {
    if (plan.runCommand) {
      commandConsole = startFirstCommand(box, await openCappedLog(paths.commandLog), log);
    }
    server = serveControl(paths.controlSocket, box.vm.agent, box.defaults, {
      saveSnapshot: async (dir) => {
        log(`saving a snapshot into ${dir}`);
        await box.saveSnapshot(dir, { name: plan.name ?? null });
        log("snapshot saved");
      },
      commandConsole,
      // Every client's command (`exec --session`, `shell`, an SDK) is audited here, by the owner.
      onExec: (request, run) => void auditExec(audit, request, run),
      stop: (graceMs) => stop.resolve(graceMs),
      // A running session's changes, now (`agentbox diff S` / `apply S` / `diff --system`): the
      // upper layers are read through the guest while its commands run on.
      collect: async (scope) => {
        if (scope === "system") return (await box.collectSystemChanges()).records;
        if (!box.workspace) {
          throw new UsageError("This session shares no directory: it has no workspace changes", {
            code: "no_workspace",
          });
        }
        log("collecting the workspace's changes (the session runs on)");
        const changes = await box.workspace.collect(box.vm.agent);
        log(`collected ${changes.entries.length} changes (${changes.bytes} bytes)`);
        return changes.entries.length;
      },
      // deno-lint-ignore require-await
      forwardPort: async (request) => {
        const named = request.hostname !== undefined || request.hostPort !== undefined;
        const forward = (!named && box.forwards.find((f) => f.guestPort === request.guestPort)) ||
          box.forwardPort({
            hostname: request.hostname ?? DEFAULT_FORWARD_ADDRESS,
            hostPort: request.hostPort ?? 0,
            guestPort: request.guestPort,
          });
        const where = formatForwardAddress(forward.hostname, forward.hostPort);
        log(`forwarding ${where} to guest port ${forward.guestPort}`);
        return { hostname: forward.hostname, hostPort: forward.hostPort };
      },
    });
    setSessionStatus(ctx.db, plan.id, "running", { controlSocket: paths.controlSocket });
    log("session running");
    const end = await Promise.race([stop.promise.then((graceMs) => ({ graceMs })), box.vm.exited]);
    if ("graceMs" in end) {
      setSessionStatus(ctx.db, plan.id, "stopping");
      await endCommands(server, commandConsole, end.graceMs, log);
    }
    await server.close();
    if (!("graceMs" in end)) {
      detail = `the VM stopped on its own (exit status ${end.code}); its workspace can be ` +
        "recovered with `agentbox diff`";
    } else if (box.workspace) {
      log("stopping: collecting the workspace's changes");
      // The workspace disks (pinned lower, upper) stay: `agentbox start` boots over them.
      const changes = await box.collectChanges();
      log(`collected ${changes?.entries.length ?? 0} changes (${changes?.bytes ?? 0} bytes)`);
    }
    if ("graceMs" in end) await collectSystem(box, log);
  } catch (error) {
    fail(error);
    // Starting reported its own failure; this one is the owner's (sandbox.stopped follows).
    audit({ type: "sandbox.failed", error: errorInfo(error) });
    throw error;
  } finally {
    await server?.close();
    await box.stop();
  }
  setSessionStatus(ctx.db, plan.id, "stopped", { detail });
  log(`session stopped${detail ? `: ${detail}` : ""}`);
}

/** How long the owner waits for the commands to go after SIGKILL. */
const KILL_WAIT_MS = 5_000;

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
 * End every command of the session: SIGTERM to each (the console's and every client's), up to
 * `graceMs` for them to end, then SIGKILL to what is left.
 */
async function endCommands(
  server: ControlServer,
  commandConsole: CommandConsole | undefined,
  graceMs: number,
  log: (line: string) => void,
): Promise<void> {
  const settled = () =>
    Promise.all([server.idle(), commandConsole?.result.catch(() => {})]).then(() => true);
  const within = (ms: number) =>
    Promise.race([settled(), new Promise<false>((resolve) => setTimeout(resolve, ms, false))]);
  log(`stopping: SIGTERM to the session's commands, ${graceMs / 1000} s to end`);
  server.signalAll("SIGTERM");
  commandConsole?.signal("SIGTERM");
  if (await within(graceMs)) return;
  log("stopping: commands still running, SIGKILL");
  server.signalAll("SIGKILL");
  commandConsole?.signal("SIGKILL");
  await within(KILL_WAIT_MS);
}

/**
 * The session's first command, in the background on a terminal of its own, as any command of the
 * session (its defaults: the image's user, the preset's and proxy's environment); its output goes
 * to `log` and to whoever attaches. Nothing it does — not even the VM stopping under it — escapes
 * as an unhandled rejection.
 */
function startFirstCommand(
  box: Sandbox,
  output: CappedLog,
  log: (line: string) => void,
): CommandConsole {
  const commandConsole = startConsole((request) => box.exec(request), box.command(), output);
  commandConsole.result.then(
    (result) =>
      log(
        `command ${JSON.stringify(box.spec.argv[0].slice(0, 200))} ended: ${
          JSON.stringify(result)
        }`,
      ),
    (error) =>
      log(`command did not finish: ${error instanceof Error ? error.message : "unknown failure"}`),
  );
  return commandConsole;
}

/** What a detached session was given besides its spec: see {@linkcode sessionAttributes}. */
export interface SessionAttributes {
  labels: Record<string, string>;
  createdBy: string | null;
}

/**
 * The labels and creator of detached session `id`, from the plan it keeps; empty for a one-shot
 * session or one started before labels existed.
 *
 * @example
 * ```ts ignore
 * import { sessionAttributes } from "./session_owner.ts";
 * console.log((await sessionAttributes(id)).labels);
 * ```
 */
export async function sessionAttributes(id: string): Promise<SessionAttributes> {
  const saved = await Deno.readTextFile(savedPlanPath(sessionPaths(id))).catch(() => undefined);
  if (saved === undefined) return { labels: {}, createdBy: null };
  try {
    const plan = parseDetachedPlan(JSON.parse(saved), "session.json");
    return { labels: plan.labels, createdBy: plan.createdBy ?? null };
  } catch {
    return { labels: {}, createdBy: null };
  }
}

/** Where a detached session keeps its plan for `agentbox start`: `<state>/session.json`. */
function savedPlanPath(paths: Pick<SessionPaths, "state">): string {
  return `${paths.state}/session.json`;
}

/**
 * Start stopped (or dead) session `ref` again (`agentbox start`): a new owner boots a VM of the
 * same image, shape, network policy and project, over the session's own workspace disks — the
 * files its commands wrote are there again; what lived only in the VM's memory or outside
 * `/workspace` is not (save a snapshot for that). Its first command, if it had one, runs again.
 * Throws `SessionError` (`session_unknown`), {@linkcode UsageError} (`session_alive`) when it
 * runs, and `session_not_restartable` when its disks or plan are gone.
 *
 * @example
 * ```ts
 * import { restartSession } from "./session_owner.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const session = await restartSession(ctx, "web");
 * console.log(session.status); // "running"
 * ```
 */
export async function restartSession(ctx: ApiContext, ref: string): Promise<LifecycleRecord> {
  const session = resolveSession(ctx.db, ref);
  const state = await observedState(session);
  if (state === "booting" || state === "running" || state === "stopping") {
    throw new UsageError(`Session ${label(session)} is ${state}: nothing to start`, {
      code: "session_alive",
    });
  }
  const paths = sessionPaths(session.id);
  const notRestartable = (why: string) =>
    new AgentboxError(`Session ${label(session)} cannot be started again: ${why}`, {
      kind: "state",
      code: "session_not_restartable",
    });
  const saved = await Deno.readTextFile(savedPlanPath(paths)).catch(() => undefined);
  if (saved === undefined) {
    throw notRestartable("it has no saved plan (it never ran, or an older agentbox started it)");
  }
  let plan: DetachedPlan;
  try {
    plan = parseDetachedPlan(JSON.parse(saved), savedPlanPath(paths));
  } catch (error) {
    throw notRestartable(`its saved plan is unreadable (${(error as Error).message})`);
  }
  if (plan.spec.share !== undefined) {
    for (const disk of [changesetPaths(paths.state).upperDisk, pinnedLowerPath(paths.state)]) {
      if (!await Deno.stat(disk).then(() => true, () => false)) {
        throw notRestartable(`its workspace disk ${disk} is gone`);
      }
    }
  }
  // The changeset collected at the last stop is of a disk the new VM writes on: it goes, and the
  // next stop (or, if this run dies, recovery from the disk) collects everything afresh.
  const workspace = changesetPaths(paths.state);
  await Deno.remove(workspace.changes, { recursive: true }).catch(() => {});
  await Deno.remove(`${workspace.root}/applied.json`).catch(() => {});
  reopenLifecycle(ctx.db, session.id, null);
  try {
    return await startOwner(ctx.db, session.id, {
      spec: { ...plan, restart: true },
      timeoutMs: VM_DEFAULTS.bootTimeoutMs + START_MARGIN_MS,
      cwd: "/",
    });
  } catch (error) {
    // Not started: it is what it was (its disks untouched), with the reason.
    setSessionStatus(ctx.db, session.id, "failed", {
      detail: error instanceof Error ? error.message.split("\n")[0] : String(error),
    });
    throw error;
  }
}
