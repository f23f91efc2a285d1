/**
 * The core's audit emitter: every operation that changes a sandbox — its lifecycle, its commands,
 * its egress decisions, approvals, applies — calls {@linkcode emitAudit} with the context it runs
 * in, so the CLI, a session's owner and `agentbox serve` leave the same trail. The sinks are the
 * user's `[audit]` table (host/config/audit_settings.ts), opened on the first event; an event
 * never waits for a sink, and a sink that cannot keep up drops events with a counter and one
 * warning (host/audit/sink_queue.ts). Schema and sinks: docs/audit.md.
 *
 * @module
 */

import { userInfo } from "node:os";
import type { ExecHandle, ExecRequest } from "../channel/agent_client.ts";
import type { ApprovalRequest } from "../proxy/proxy_context.ts";
import type { NewAuditEvent } from "../audit/audit_event.ts";
import { boundedArgv, sealEvent } from "../audit/seal_event.ts";
import type { AuditTrail, AuditTrailSettings } from "../audit/audit_trail.ts";
import type { AuditSink, SinkStats } from "../audit/sink_queue.ts";
import type { ApiContext } from "./context.ts";

export type { AuditEvent, AuditEventType, NewAuditEvent } from "../audit/audit_event.ts";
export type { AuditSink, SinkStats };

/** Events kept while the settings load; beyond it they are dropped (counted in no sink). */
const PENDING_MAX = 1024;

/** A process's audit log: the sinks of the user's `[audit]` table, opened when first needed. */
export interface AuditLog {
  /**
   * Load the settings (once). Throws `ConfigError` for an invalid `[audit]` table: operations that
   * start something call it first, so a broken audit configuration refuses the work rather than
   * losing its trail.
   */
  ready(): Promise<void>;
  /** Hand `event` to every sink; never waits, never throws. */
  emit(event: ReturnType<typeof sealEvent>): void;
  /** Each sink's counts so far (empty before the first event). */
  stats(): SinkStats[];
  /** Drain within `deadlineMs`, close the sinks; their final counts. */
  close(deadlineMs?: number): Promise<SinkStats[]>;
}

/** Options of {@linkcode openAuditLog}. */
export interface AuditLogOptions {
  /** Told once per sink when it starts dropping events, and when the settings are unusable. */
  onWarning: (message: string) => void;
  /** Where the settings come from; default the user's config.toml. */
  settings?: () => Promise<AuditTrailSettings>;
  /** Extra sinks (tests; a server's event stream). */
  sinks?: AuditSink[];
}

/**
 * An audit log that opens the configured sinks on first use.
 *
 * @example
 * ```ts
 * import { openAuditLog } from "./audit.ts";
 * const audit = openAuditLog({ onWarning: console.warn, settings: async () => ({ queue: 8 }) });
 * await audit.ready();
 * await audit.close();
 * ```
 */
export function openAuditLog(options: AuditLogOptions): AuditLog {
  let opening: Promise<AuditTrail> | undefined;
  let trail: AuditTrail | undefined;
  let failed = false;
  const pending: ReturnType<typeof sealEvent>[] = [];
  const open = () => {
    opening ??= (async () => {
      const [{ openAuditTrail }, { loadAuditSettings }] = await Promise.all([
        import("../audit/audit_trail.ts"),
        import("../config/audit_settings.ts"),
      ]);
      const settings = await (options.settings ?? (() => loadAuditSettings()))();
      trail = openAuditTrail(settings, {
        sinks: options.sinks,
        onDrop: (sink, reason) =>
          options.onWarning(
            `audit: ${sink}: dropping events: ${reason} (dropped events are counted)`,
          ),
      });
      for (const event of pending.splice(0)) trail.emit(event);
      return trail;
    })();
    opening.catch((error) => {
      if (failed) return;
      failed = true;
      pending.length = 0;
      options.onWarning(
        `audit events are not exported: ${error instanceof Error ? error.message : error}`,
      );
    });
    return opening;
  };
  return {
    async ready() {
      await open();
    },
    emit(event) {
      if (trail) return trail.emit(event);
      if (failed) return;
      if (pending.length < PENDING_MAX) pending.push(event);
      void open().catch(() => {});
    },
    stats: () => trail?.stats() ?? [],
    async close(deadlineMs) {
      if (!opening) return [];
      const opened = await opening.catch(() => undefined);
      return await opened?.close(deadlineMs) ?? [];
    },
  };
}

let cachedActor: string | undefined;

/**
 * Who this process acts for when the context names nobody: `cli:<user name>` (`cli:uid:<n>`
 * when the user has no name).
 *
 * @example
 * ```ts
 * import { processActor } from "./audit.ts";
 * console.assert(processActor().startsWith("cli:"));
 * ```
 */
export function processActor(): string {
  if (cachedActor) return cachedActor;
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch { /* no passwd entry */ }
  cachedActor = name ? `cli:${name}` : `cli:uid:${Deno.uid()}`;
  return cachedActor;
}

/**
 * Emit `event` to the context's audit log (none: nothing happens), sealed with a new id, the
 * time and the context's actor. Never waits, never throws: call it from anywhere in the core.
 *
 * @example
 * ```ts
 * import { emitAudit } from "./audit.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * emitAudit(ctx, {
 *   type: "approval.decided",
 *   session: { id: "0f3c2a9e-0000-4000-8000-000000000000" },
 *   host: "registry.npmjs.org", port: 443, rule: "gray: registry.npmjs.org",
 *   decision: "once", by: "cli:me",
 * });
 * ```
 */
export function emitAudit(ctx: Pick<ApiContext, "audit" | "actor">, event: NewAuditEvent): void {
  if (!ctx.audit) return;
  try {
    ctx.audit.emit(sealEvent(event, ctx.actor ?? processActor()));
  } catch { /* an audit failure never fails the work */ }
}

/**
 * Load the context's audit settings now (see {@linkcode AuditLog.ready}); a context without an
 * audit log has nothing to load.
 *
 * @example
 * ```ts
 * import { auditReady } from "./audit.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * await auditReady(ctx);
 * ```
 */
export async function auditReady(ctx: Pick<ApiContext, "audit">): Promise<void> {
  await ctx.audit?.ready();
}

/** An event of one session, before its `session` is filled in. */
export type SessionAuditEvent = NewAuditEvent extends infer E
  ? E extends NewAuditEvent ? Omit<E, "session"> : never
  : never;

/** Emits the events of one session. */
export type SessionAuditor = (event: SessionAuditEvent) => void;

/**
 * An emitter for the events of session `session`.
 *
 * @example
 * ```ts
 * import { sessionAuditor } from "./audit.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const audit = sessionAuditor(ctx, { id: "0f3c2a9e-0000-4000-8000-000000000000", name: "web" });
 * audit({ type: "sandbox.removed" });
 * ```
 */
export function sessionAuditor(
  ctx: Pick<ApiContext, "audit" | "actor">,
  session: { id: string; name?: string | null },
): SessionAuditor {
  const ref = session.name ? { id: session.id, name: session.name } : { id: session.id };
  return (event) => emitAudit(ctx, { ...event, session: ref } as NewAuditEvent);
}

/**
 * Audit one command: `exec.started` now, `exec.finished` when `run` settles (its exit status, or
 * the error that stopped it). `request.user` is the user it runs as. Returns `run`.
 *
 * @example
 * ```ts ignore
 * import { auditExec } from "./audit.ts";
 * const run = auditExec(audit, request, agent.exec(request));
 * ```
 */
export function auditExec(
  audit: SessionAuditor,
  request: Pick<ExecRequest, "argv" | "user">,
  run: ExecHandle,
): ExecHandle {
  const exec = {
    id: crypto.randomUUID(),
    ...boundedArgv(request.argv),
    ...(request.user !== undefined ? { user: request.user } : {}),
  };
  const started = performance.now();
  audit({ type: "exec.started", exec });
  const durationMs = () => Math.round(performance.now() - started);
  run.result.then(
    (result) =>
      audit({
        type: "exec.finished",
        exec,
        exitCode: result.code,
        signal: result.signal,
        timedOut: result.timedOut,
        durationMs: durationMs(),
      }),
    (error) =>
      audit({
        type: "exec.finished",
        exec,
        exitCode: null,
        signal: null,
        timedOut: false,
        durationMs: durationMs(),
        error: errorInfo(error),
      }),
  );
  return run;
}

/**
 * `approve` (the proxy's graylist callback), audited: `approval.requested` when it is asked,
 * `approval.decided` with its answer — `allow` or `deny`, all a yes/no callback says — by the
 * context's actor. `audit` is called when a question comes (the session exists by then).
 *
 * @example
 * ```ts
 * import { auditedApprover, sessionAuditor } from "./audit.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const audit = sessionAuditor(ctx, { id: "0f3c2a9e-0000-4000-8000-000000000000" });
 * const approve = auditedApprover(ctx, () => audit, () => Promise.resolve(false));
 * ```
 */
export function auditedApprover(
  ctx: Pick<ApiContext, "actor">,
  audit: () => SessionAuditor,
  approve: (request: ApprovalRequest) => Promise<boolean>,
  options: { decidedElsewhere?: boolean } = {},
): (request: ApprovalRequest) => Promise<boolean> {
  return async (request) => {
    const where = { host: request.host, port: request.port, rule: request.rule };
    audit()({ type: "approval.requested", ...where });
    let allowed = false;
    try {
      allowed = await approve(request);
      return allowed;
    } finally {
      if (!options.decidedElsewhere) {
        audit()({
          type: "approval.decided",
          ...where,
          decision: allowed ? "allow" : "deny",
          by: ctx.actor ?? processActor(),
        });
      }
    }
  };
}

/**
 * An error as an audit event carries it: its stable code (`internal` when it has none) and its
 * first line.
 *
 * @example
 * ```ts
 * import { errorInfo } from "./audit.ts";
 * console.assert(errorInfo(new Error("boom\nmore")).message === "boom");
 * ```
 */
export function errorInfo(error: unknown): { code: string; message: string } {
  const code = typeof error === "object" && error !== null && "code" in error &&
      typeof error.code === "string"
    ? error.code
    : "internal";
  const message = error instanceof Error ? error.message : String(error);
  return { code, message: message.split("\n")[0].slice(0, 1000) };
}
