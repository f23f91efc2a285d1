/**
 * The egress proxy: start one per session with {@linkcode startProxy}, point the guest at it and
 * read what happened from the store. See docs/proxy.md.
 *
 * @example
 * ```ts
 * import { startProxy, storeRecorder } from "./mod.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * import { openDatabase } from "../store/database.ts";
 * import { createSession } from "../store/sessions.ts";
 * const db = openDatabase();
 * const proxy = startProxy({ policy: emptyPolicy(), recorder: storeRecorder(db, createSession(db).id) });
 * await proxy.close();
 * ```
 *
 * @module
 */

export { type ProxyServer, startProxy } from "./proxy_server.ts";
export type { ApprovalRequest, ProxyOptions } from "./proxy_context.ts";
export { type RecordedAiCall, type RequestRecorder, storeRecorder } from "./recorder.ts";
export { ProxyError, type ProxyErrorCode } from "./proxy_error.ts";
export { type Admission, ConnectionBudget } from "./admission.ts";
