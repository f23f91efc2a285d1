/**
 * The audit event's schema (host/audit/audit_event.ts), for front ends that publish or check it
 * (`deno task docs:schemas`, tests, a server's OpenAPI document). Apart from audit.ts so that
 * emitting loads no schema library.
 *
 * @module
 */

export { AUDIT_EVENT_VERSION, AuditEventSchema } from "../audit/audit_event.ts";
