/**
 * Making an audit event (audit_event.ts has its schema): the envelope every event carries, and
 * the bound on what an exec event says of its command. Kept apart from the schema so that
 * emitting loads no schema library.
 *
 * @module
 */

import type { AuditEvent, NewAuditEvent } from "./audit_event.ts";

/** The schema's version, carried by every event. */
export const AUDIT_EVENT_VERSION = 1;

/** Longest argv (all arguments together, in UTF-16 units) an exec event carries; more is cut. */
export const MAX_ARGV_CHARS = 4096;

/**
 * Wrap `event` in its envelope: a new id, the time now, `actor`.
 *
 * @example
 * ```ts
 * import { sealEvent } from "./seal_event.ts";
 * const event = sealEvent({ type: "sandbox.removed", session: { id: "s1" } }, "cli:me");
 * console.assert(event.version === 1 && event.actor === "cli:me");
 * ```
 */
export function sealEvent(event: NewAuditEvent, actor: string, now = new Date()): AuditEvent {
  return {
    version: AUDIT_EVENT_VERSION,
    id: crypto.randomUUID(),
    time: now.toISOString(),
    actor,
    ...event,
  } as AuditEvent;
}

/**
 * `argv` bounded for an event: arguments kept whole while they fit in {@linkcode MAX_ARGV_CHARS},
 * the one that crosses the bound cut, the rest left out.
 *
 * @example
 * ```ts
 * import { boundedArgv } from "./seal_event.ts";
 * console.assert(boundedArgv(["ls", "-l"]).argvTruncated === undefined);
 * console.assert(boundedArgv(["echo", "x".repeat(10_000)]).argvTruncated === true);
 * ```
 */
export function boundedArgv(argv: readonly string[]): { argv: string[]; argvTruncated?: true } {
  const kept: string[] = [];
  let left = MAX_ARGV_CHARS;
  for (const arg of argv) {
    if (arg.length > left) {
      kept.push(arg.slice(0, left));
      return { argv: kept, argvTruncated: true };
    }
    kept.push(arg);
    left -= arg.length;
  }
  return { argv: kept };
}
