/**
 * Audit events as RFC 5424 syslog messages:
 *
 * ```
 * <PRI>1 TIMESTAMP HOSTNAME agentbox PROCID MSGID [agentbox@32473 id="…" session="…" actor="…"] BOM{json}
 * ```
 *
 * PRI is facility × 8 + severity (warning for a refusal or a failure, informational otherwise);
 * MSGID is the event's `type`; the structured data carries the fields a collector indexes on, and
 * MSG the whole event as JSON, UTF-8 with the BOM RFC 5424 asks for. `32473` is the private
 * enterprise number RFC 5612 reserves for documentation: agentbox has none of its own.
 * Header fields hold printable US-ASCII only; what does not fit becomes the NILVALUE `-`.
 *
 * @module
 */

import type { AuditEvent } from "./audit_event.ts";

/** Facility names and codes (RFC 5424 table 1). */
export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  solaris_cron: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;

/** A facility's name. */
export type Facility = keyof typeof FACILITIES;

/** Severity codes used (RFC 5424 table 2). */
export const SEVERITY = { warning: 4, notice: 5, informational: 6 } as const;

/** The SD-ID of agentbox's structured data element. */
export const SD_ID = "agentbox@32473";

/** The RFC 5424 NILVALUE. */
export const NILVALUE = "-";

const BOM = "\uFEFF";

/** Header fields fixed for one sender. */
export interface SyslogHeader {
  facility: Facility;
  /** Default `Deno.hostname()`. */
  hostname?: string;
  /** Default `agentbox`. */
  appName?: string;
  /** Default the process id. */
  procId?: string;
}

/**
 * PRI: `facility * 8 + severity`.
 *
 * @example
 * ```ts
 * import { priority } from "./syslog_format.ts";
 * console.assert(priority("local0", 6) === 134);
 * ```
 */
export function priority(facility: Facility, severity: number): number {
  return FACILITIES[facility] * 8 + severity;
}

/**
 * The severity of `event`: warning for a refusal, a failure or a denied approval, else
 * informational.
 *
 * @example
 * ```ts
 * import { severityOf } from "./syslog_format.ts";
 * declare const event: import("./audit_event.ts").AuditEvent;
 * console.log(severityOf(event));
 * ```
 */
export function severityOf(event: AuditEvent): number {
  switch (event.type) {
    case "sandbox.failed":
      return SEVERITY.warning;
    case "egress.decision":
      return event.decision === "deny" ? SEVERITY.warning : SEVERITY.informational;
    case "approval.decided":
      return event.decision === "deny" || event.decision === "timeout"
        ? SEVERITY.warning
        : SEVERITY.notice;
    case "changes.applied":
      return event.status === "failed" ? SEVERITY.warning : SEVERITY.notice;
    default:
      return SEVERITY.informational;
  }
}

/**
 * An SD-PARAM value with `"`, `\` and `]` escaped by a backslash (RFC 5424 section 6.3.3).
 *
 * @example
 * ```ts
 * import { escapeParamValue } from "./syslog_format.ts";
 * console.assert(escapeParamValue('a"b\\c]') === 'a\\"b\\\\c\\]');
 * ```
 */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * `value` as a header field: printable US-ASCII (33–126) of at most `max` characters, else the
 * NILVALUE.
 *
 * @example
 * ```ts
 * import { headerField } from "./syslog_format.ts";
 * console.assert(headerField("", 48) === "-");
 * console.assert(headerField("my host", 255) === "-");
 * ```
 */
export function headerField(value: string | undefined, max: number): string {
  if (value === undefined || value === "" || value.length > max) return NILVALUE;
  return /^[\x21-\x7e]+$/.test(value) ? value : NILVALUE;
}

/**
 * The RFC 5424 message for `event`.
 *
 * @example
 * ```ts
 * import { formatSyslog } from "./syslog_format.ts";
 * import { sealEvent } from "./seal_event.ts";
 * const event = sealEvent({ type: "sandbox.removed", session: { id: "s1" } }, "cli:me");
 * const line = formatSyslog(event, { facility: "local0", hostname: "h", procId: "1" });
 * console.assert(line.startsWith("<134>1 "));
 * ```
 */
export function formatSyslog(event: AuditEvent, header: SyslogHeader): string {
  const pri = priority(header.facility, severityOf(event));
  const host = headerField(header.hostname ?? Deno.hostname(), 255);
  const app = headerField(header.appName ?? "agentbox", 48);
  const proc = headerField(header.procId ?? String(Deno.pid), 128);
  const msgId = headerField(event.type, 32);
  const params: [string, string | undefined][] = [
    ["id", event.id],
    ["session", event.session.id],
    ["name", event.session.name],
    ["actor", event.actor],
    ["v", String(event.version)],
  ];
  const sd = `[${SD_ID}${
    params.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeParamValue(v!)}"`)
      .join("")
  }]`;
  return `<${pri}>1 ${event.time} ${host} ${app} ${proc} ${msgId} ${sd} ${BOM}${
    JSON.stringify(event)
  }`;
}

/**
 * `message` framed for a stream transport by octet counting (RFC 6587 section 3.4.1):
 * `LENGTH SP MESSAGE`, LENGTH in bytes.
 *
 * @example
 * ```ts
 * import { octetCounted } from "./syslog_format.ts";
 * console.assert(new TextDecoder().decode(octetCounted("<14>1 é")) === "8 <14>1 é");
 * ```
 */
export function octetCounted(message: string): Uint8Array {
  const body = new TextEncoder().encode(message);
  const prefix = new TextEncoder().encode(`${body.length} `);
  const framed = new Uint8Array(prefix.length + body.length);
  framed.set(prefix);
  framed.set(body, prefix.length);
  return framed;
}
