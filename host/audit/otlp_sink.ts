/**
 * The OpenTelemetry audit sink: OTLP/HTTP with the JSON encoding, `POST {endpoint}/v1/logs`
 * (otlp_logs.ts), a batch per request. A 2xx is delivered; 429, 5xx, a timeout or a connection
 * failure is retried (by the queue, sink_queue.ts); any other status means the collector will
 * never take the batch, which is dropped.
 *
 * @module
 */

import type { AuditEvent } from "./audit_event.ts";
import { otlpLogsRequest } from "./otlp_logs.ts";
import { type AuditSink, SinkRejected } from "./sink_queue.ts";

/** Options of {@linkcode otlpSink}. */
export interface OtlpSinkOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:4318`; `/v1/logs` is appended. */
  endpoint: string;
  /** Extra request headers (an `Authorization`, a tenant); never logged. */
  headers?: Record<string, string>;
  /** Per request (default 5 s). */
  timeoutMs?: number;
}

/**
 * The logs URL of an OTLP/HTTP `endpoint`: `{endpoint}/v1/logs`, a trailing slash ignored.
 *
 * @example
 * ```ts
 * import { logsUrl } from "./otlp_sink.ts";
 * console.assert(logsUrl("http://127.0.0.1:4318/") === "http://127.0.0.1:4318/v1/logs");
 * ```
 */
export function logsUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/logs`;
}

/**
 * A sink posting batches to an OTLP/HTTP collector.
 *
 * @example
 * ```ts ignore
 * import { otlpSink } from "./otlp_sink.ts";
 * const sink = otlpSink({ endpoint: "http://127.0.0.1:4318" });
 * ```
 */
export function otlpSink(options: OtlpSinkOptions): AuditSink {
  const url = logsUrl(options.endpoint);
  const timeoutMs = options.timeoutMs ?? 5000;
  const hostname = Deno.hostname();
  const client = Deno.createHttpClient({});
  return {
    name: `otlp ${url}`,
    async deliver(batch: readonly AuditEvent[]) {
      const response = await fetch(url, {
        method: "POST",
        headers: { ...options.headers, "content-type": "application/json" },
        body: JSON.stringify(otlpLogsRequest(batch, hostname)),
        signal: AbortSignal.timeout(timeoutMs),
        client,
      });
      await response.body?.cancel();
      if (response.ok) return;
      const detail = `HTTP ${response.status} from the collector`;
      if (response.status === 429 || response.status >= 500) throw new Error(detail);
      throw new SinkRejected(detail);
    },
    close() {
      client.close();
      return Promise.resolve();
    },
  };
}
