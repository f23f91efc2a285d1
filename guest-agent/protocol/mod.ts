/**
 * The agentbox wire protocol, shared by the host and the guest agent: length-prefixed CBOR
 * frames, a versioned hello, multiplexed flow-controlled streams and typed errors.
 * See `docs/protocol.md` for transcripts.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage } from "@agentbox/protocol";
 * const frame = encodeMessage({ type: "exec.signal", stream: 1, signal: "SIGINT" });
 * console.assert(decodeMessage(frame.subarray(4)).type === "exec.signal");
 * ```
 *
 * @module
 */

export * from "./codec.ts";
export * from "./connection.ts";
export * from "./errors.ts";
export * from "./flow.ts";
export * from "./frame.ts";
export * from "./messages.ts";
export * from "./changes_stream.ts";
export * from "./stream_scope.ts";
