/**
 * How the proxy reports requests: a {@linkcode RequestRecorder} gets a row when the proxy has
 * decided and the outcome when the exchange ends, plus — when it implements `aiCall` — the model
 * and token counts of every AI API call. {@linkcode storeRecorder} writes to SQLite.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type AiCallStart, insertAiCall } from "../store/ai_calls.ts";
import {
  beginRequest,
  finishRequest,
  type RequestEnd,
  type RequestStart,
} from "../store/requests.ts";
import { ProxyError } from "./proxy_error.ts";

/** A decided request, before any byte went upstream. */
export type RecordedStart = Omit<RequestStart, "session">;

/** An AI API call read from a response that went through the proxy: counts, never content. */
export type RecordedAiCall = Omit<AiCallStart, "session">;

/**
 * Sink for request records. `begin` must be durable when it returns; if it throws, the proxy
 * refuses the request (fail closed: nothing leaves unrecorded). `aiCall` is optional: without it
 * the proxy does not read AI usage at all; its failures are warnings (the call already happened).
 */
export interface RequestRecorder {
  begin(start: RecordedStart): number;
  finish(id: number, end: RequestEnd): void;
  aiCall?(call: RecordedAiCall): void;
}

/**
 * Record into the agentbox database under `session`.
 *
 * @example
 * ```ts
 * import { openDatabase } from "../store/database.ts";
 * import { createSession } from "../store/sessions.ts";
 * import { storeRecorder } from "./recorder.ts";
 * const db = openDatabase(":memory:");
 * const recorder = storeRecorder(db, createSession(db).id);
 * ```
 */
export function storeRecorder(db: DatabaseSync, session: string): RequestRecorder {
  return {
    begin: (start) => beginRequest(db, { ...start, session }),
    finish: (id, end) => finishRequest(db, id, end),
    aiCall: (call) => void insertAiCall(db, { ...call, session }),
  };
}

/**
 * `recorder.begin`, failing closed: a recorder error becomes {@linkcode ProxyError} `log_failed`
 * and the request is refused.
 *
 * @example
 * ```ts
 * import { beginRecord } from "./recorder.ts";
 * const id = beginRecord({ begin: () => 1, finish() {} }, {
 *   method: "CONNECT", scheme: "https", host: "example.com", port: 443,
 *   decision: "allow", rule: "allow",
 * });
 * ```
 */
export function beginRecord(recorder: RequestRecorder, start: RecordedStart): number {
  try {
    return recorder.begin(start);
  } catch (cause) {
    throw new ProxyError("log_failed", "agentbox: cannot record the request, refusing it", {
      cause,
    });
  }
}

/**
 * `recorder.finish`, reporting failures to `warn` (the exchange already happened).
 *
 * @example
 * ```ts
 * import { finishRecord } from "./recorder.ts";
 * finishRecord({ begin: () => 1, finish() {} }, 1, { bytesUp: 0, bytesDown: 0, durationMs: 1 }, console.warn);
 * ```
 */
export function finishRecord(
  recorder: RequestRecorder,
  id: number,
  end: RequestEnd,
  warn: (error: unknown) => void,
): void {
  try {
    recorder.finish(id, end);
  } catch (err) {
    warn(err);
  }
}
