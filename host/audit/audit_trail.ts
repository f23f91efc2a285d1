/**
 * The audit trail of one process: every configured sink (JSON-lines file, syslog, OTLP) behind a
 * bounded queue of its own (sink_queue.ts), each event handed to all of them. Emitting never
 * waits; closing gives the queues a deadline to drain.
 *
 * @module
 */

import type { AuditEvent } from "./audit_event.ts";
import { fileSink, type FileSinkOptions } from "./file_sink.ts";
import { otlpSink, type OtlpSinkOptions } from "./otlp_sink.ts";
import { type AuditSink, SinkQueue, type SinkStats } from "./sink_queue.ts";
import { syslogSink, type SyslogSinkOptions } from "./syslog_sink.ts";

/** Which sinks, and how large each queue is (`[audit]` in config.toml). */
export interface AuditTrailSettings {
  /** Events waiting per sink before new ones are dropped. */
  queue: number;
  file?: FileSinkOptions;
  syslog?: SyslogSinkOptions;
  otlp?: OtlpSinkOptions;
}

/** No sinks: events go nowhere. */
export const NO_SINKS: AuditTrailSettings = { queue: 1024 };

/** How long closing waits for the queues to drain, by default. */
export const CLOSE_DEADLINE_MS = 2000;

/** A process's audit trail. */
export interface AuditTrail {
  /** Hand `event` to every sink; never waits, never throws. */
  emit(event: AuditEvent): void;
  /** Each sink's counts so far. */
  stats(): SinkStats[];
  /** Drain within `deadlineMs` (default {@linkcode CLOSE_DEADLINE_MS}), then close every sink. */
  close(deadlineMs?: number): Promise<SinkStats[]>;
}

/** Options of {@linkcode openAuditTrail}. */
export interface AuditTrailOptions {
  /** Called once per sink, at its first dropped event, with why (the api turns it into a warning). */
  onDrop?: (sink: string, reason: string) => void;
  /** Extra sinks (tests, a server's event stream). */
  sinks?: AuditSink[];
}

/**
 * Open the sinks `settings` names.
 *
 * @example
 * ```ts
 * import { openAuditTrail } from "./audit_trail.ts";
 * import { sealEvent } from "./seal_event.ts";
 * const dir = await Deno.makeTempDir();
 * const trail = openAuditTrail({ queue: 16, file: { path: `${dir}/audit.jsonl` } });
 * trail.emit(sealEvent({ type: "sandbox.removed", session: { id: "s" } }, "cli:me"));
 * const [file] = await trail.close();
 * console.assert(file.delivered === 1);
 * ```
 */
export function openAuditTrail(
  settings: AuditTrailSettings,
  options: AuditTrailOptions = {},
): AuditTrail {
  const sinks: AuditSink[] = [
    ...(settings.file ? [fileSink(settings.file)] : []),
    ...(settings.syslog ? [syslogSink(settings.syslog)] : []),
    ...(settings.otlp ? [otlpSink(settings.otlp)] : []),
    ...(options.sinks ?? []),
  ];
  const queues = sinks.map((sink) =>
    new SinkQueue(sink, { capacity: settings.queue, onDrop: options.onDrop })
  );
  let closed: Promise<SinkStats[]> | undefined;
  return {
    emit(event) {
      for (const queue of queues) queue.push(event);
    },
    stats: () => queues.map((q) => q.stats()),
    close(deadlineMs = CLOSE_DEADLINE_MS) {
      closed ??= Promise.all(queues.map((q) => q.close(deadlineMs)));
      return closed;
    },
  };
}
