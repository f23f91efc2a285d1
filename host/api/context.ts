/**
 * What every core operation works with, made once by the edge: the database, where events go,
 * the audit log and who acts (audit.ts), and the seams tests replace (how a VM is started).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../store/database.ts";
import type { BootOptions } from "../vm/boot.ts";
import type { RunningVm } from "../vm/running_vm.ts";
import { type AuditLog, openAuditLog } from "./audit.ts";
import { type EventSink, IGNORE_EVENTS } from "./events.ts";

/** How the core starts a VM: `bootVm` in production, an in-process agent in fast tests. */
export type StartVm = (options: BootOptions) => Promise<RunningVm>;

/** The context of core operations. */
export interface ApiContext {
  db: DatabaseSync;
  onEvent: EventSink;
  /** Absent: `bootVm` (host/vm/boot.ts), loaded when first needed. */
  startVm?: StartVm;
  /** Where audit events go (audit.ts); absent: nowhere. */
  audit?: AuditLog;
  /**
   * Who the operations are done for, in audit events: a server sets its token's name; absent:
   * `cli:<user>` (audit.ts `processActor`).
   */
  actor?: string;
}

/** A context {@linkcode openContext} made: close it, or dispose of it with `await using`. */
export type OpenedContext = ApiContext & Disposable & AsyncDisposable & {
  /** Close the database; the audit log gets no time to drain (use `await using` or `flush`). */
  close(): void;
  /** Drain and close the audit log, then close the database. */
  flush(): Promise<void>;
};

/**
 * Open a context on the user's database, with an audit log of the user's `[audit]` sinks (opened
 * on its first event); `await using` it (or `flush()` it) when done so that the audit log drains.
 * A command that emits no audit event may `using` it.
 *
 * @example
 * ```ts
 * import { openContext } from "./context.ts";
 * await using ctx = openContext({ onEvent: (e) => console.error(e.message) });
 * ```
 */
export function openContext(
  options: Partial<Omit<ApiContext, "db">> & { db?: DatabaseSync } = {},
): OpenedContext {
  const db = options.db ?? openDatabase();
  const onEvent = options.onEvent ?? IGNORE_EVENTS;
  const audit = options.audit ??
    openAuditLog({ onWarning: (message) => onEvent({ type: "warning", message }) });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    void audit.close(0).catch(() => {});
    if (!options.db) db.close();
  };
  const flush = async () => {
    if (closed) return;
    await audit.close().catch(() => {});
    close();
  };
  return {
    db,
    onEvent,
    startVm: options.startVm,
    audit,
    actor: options.actor,
    close,
    flush,
    [Symbol.dispose]: close,
    [Symbol.asyncDispose]: flush,
  };
}
