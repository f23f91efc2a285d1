/**
 * What the core has to tell a person while it works, as data: the edge renders it (the CLI as
 * `agentbox: warning: …` lines, a server as events on a stream). The core never prints.
 *
 * @module
 */

import type { Approval } from "./approvals.ts";

/** One thing worth telling the user. */
export type SandboxEvent =
  /** Something is off but the work goes on (software emulation, a stale image). */
  | { type: "warning"; message: string }
  /** Long work is under way (packing a share, collecting changes). */
  | { type: "progress"; message: string }
  /** How far the current piece of long work is, for a progress bar (replaced by the next one). */
  | { type: "step-progress"; message: string; fraction?: number }
  /** A graylisted destination waits for someone to answer (api/approvals.ts). */
  | { type: "approval"; message: string; approval: Approval };

/** Where events go. */
export type EventSink = (event: SandboxEvent) => void;

/**
 * A sink that drops everything.
 *
 * @example
 * ```ts
 * import { IGNORE_EVENTS } from "./events.ts";
 * IGNORE_EVENTS({ type: "warning", message: "unheard" });
 * ```
 */
export const IGNORE_EVENTS: EventSink = () => {};
