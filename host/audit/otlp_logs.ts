/**
 * Audit events as an OpenTelemetry logs export request in OTLP/HTTP's JSON encoding
 * (`POST {endpoint}/v1/logs`): one `resourceLogs` entry (`service.name` = `agentbox`), one scope
 * (`agentbox.audit`, the schema's version), one `logRecord` per event with the event's `type` as
 * `eventName`, its time, a severity, the indexed fields as attributes and the whole event as a
 * `kvlistValue` body. 64-bit integers are strings, as the protobuf JSON mapping asks.
 *
 * @module
 */

import type { AuditEvent } from "./audit_event.ts";
import { AUDIT_EVENT_VERSION } from "./seal_event.ts";
import { SEVERITY, severityOf } from "./syslog_format.ts";

/** An OTLP `AnyValue`. */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | Record<string, never>;

/** An OTLP `KeyValue`. */
export interface KeyValue {
  key: string;
  value: AnyValue;
}

/**
 * `value` (JSON data) as an OTLP `AnyValue`; `null` and `undefined` are the empty value.
 *
 * @example
 * ```ts
 * import { anyValue } from "./otlp_logs.ts";
 * console.assert(JSON.stringify(anyValue(3)) === '{"intValue":"3"}');
 * ```
 */
export function anyValue(value: unknown): AnyValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValue) } };
  if (typeof value === "object" && value !== null) {
    return {
      kvlistValue: {
        values: Object.entries(value).filter(([, v]) => v !== undefined)
          .map(([key, v]) => ({ key, value: anyValue(v) })),
      },
    };
  }
  return {};
}

const SEVERITY_NUMBER: Record<number, { number: number; text: string }> = {
  [SEVERITY.informational]: { number: 9, text: "INFO" },
  [SEVERITY.notice]: { number: 10, text: "INFO2" },
  [SEVERITY.warning]: { number: 13, text: "WARN" },
};

/**
 * The export request body for `events`.
 *
 * @example
 * ```ts
 * import { otlpLogsRequest } from "./otlp_logs.ts";
 * import { sealEvent } from "./seal_event.ts";
 * const body = otlpLogsRequest([sealEvent({ type: "sandbox.removed", session: { id: "s" } }, "cli:me")]);
 * console.assert(body.resourceLogs[0].scopeLogs[0].logRecords.length === 1);
 * ```
 */
export function otlpLogsRequest(events: readonly AuditEvent[], hostname = Deno.hostname()) {
  return {
    resourceLogs: [{
      resource: {
        attributes: [
          { key: "service.name", value: { stringValue: "agentbox" } },
          { key: "host.name", value: { stringValue: hostname } },
        ],
      },
      scopeLogs: [{
        scope: { name: "agentbox.audit", version: String(AUDIT_EVENT_VERSION) },
        logRecords: events.map(logRecord),
      }],
    }],
  };
}

function logRecord(event: AuditEvent) {
  const nanos = String(BigInt(Date.parse(event.time)) * 1_000_000n);
  const severity = SEVERITY_NUMBER[severityOf(event)];
  const attributes: KeyValue[] = [
    { key: "event.name", value: { stringValue: event.type } },
    { key: "agentbox.event.id", value: { stringValue: event.id } },
    { key: "agentbox.session.id", value: { stringValue: event.session.id } },
    { key: "agentbox.actor", value: { stringValue: event.actor } },
  ];
  if (event.session.name !== undefined) {
    attributes.push({ key: "agentbox.session.name", value: { stringValue: event.session.name } });
  }
  return {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: severity.number,
    severityText: severity.text,
    eventName: event.type,
    body: anyValue(event),
    attributes,
  };
}
