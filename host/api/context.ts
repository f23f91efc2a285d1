/**
 * What every core operation works with, made once by the edge: the database, where events go,
 * and the seams tests replace (how a VM is started).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../store/database.ts";
import type { BootOptions } from "../vm/boot.ts";
import type { RunningVm } from "../vm/running_vm.ts";
import { type EventSink, IGNORE_EVENTS } from "./events.ts";

/** How the core starts a VM: `bootVm` in production, an in-process agent in fast tests. */
export type StartVm = (options: BootOptions) => Promise<RunningVm>;

/** The context of core operations. */
export interface ApiContext {
  db: DatabaseSync;
  onEvent: EventSink;
  /** Absent: `bootVm` (host/vm/boot.ts), loaded when first needed. */
  startVm?: StartVm;
}

/**
 * Open a context on the user's database; `close()` it (or `using` it) when done.
 *
 * @example
 * ```ts
 * import { openContext } from "./context.ts";
 * using ctx = openContext({ onEvent: (e) => console.error(e.message) });
 * ```
 */
export function openContext(
  options: Partial<Omit<ApiContext, "db">> & { db?: DatabaseSync } = {},
): ApiContext & Disposable & { close(): void } {
  const db = options.db ?? openDatabase();
  const close = () => {
    if (!options.db) db.close();
  };
  return {
    db,
    onEvent: options.onEvent ?? IGNORE_EVENTS,
    startVm: options.startVm,
    close,
    [Symbol.dispose]: close,
  };
}
